import { useState } from "preact/hooks";
import { parseToken, session } from "../session.js";
import { serviceUrl } from "../service-client.js";

/** The access-token input and its button, on the sign-in page and in the sign-in-again dialog. */
export function TokenForm({ submitLabel }: { submitLabel: string }) {
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState<string>();

  const submit = (event: Event) => {
    event.preventDefault();
    const parsed = parseToken(token);
    if ("problem" in parsed) return setProblem(parsed.problem);
    session.signIn(parsed.token);
  };

  return (
    <form onSubmit={submit} noValidate>
      <label for="access-token">Access token</label>
      <p class="hint" id="token-hint">
        A bearer token (JWT) for your workspace. It is kept in this tab only and sent only to {serviceUrl()}.
      </p>
      <input
        id="access-token"
        name="access-token"
        type="password"
        autocomplete="off"
        spellcheck={false}
        aria-describedby={problem ? "token-hint token-problem" : "token-hint"}
        aria-invalid={problem ? true : undefined}
        value={token}
        onInput={(e) => setToken(e.currentTarget.value)}
      />
      {problem && (
        <p class="field-error" id="token-problem">
          {problem}
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary">
          {submitLabel}
        </button>
      </div>
    </form>
  );
}

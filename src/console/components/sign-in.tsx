import { useEffect, useState } from "preact/hooks";
import { serviceUrl } from "../service-client.js";
import { session } from "../session.js";

interface DevToken {
  token: string;
  workspaceId: string;
  expiresAt: string;
}

/** Asks the service for the dev workspace's token; undefined unless it runs in dev mode and this page is its own, on this machine. */
async function fetchDevToken(): Promise<DevToken | undefined> {
  try {
    const res = await fetch(`${serviceUrl()}/console/dev-token`, { cache: "no-store" });
    return res.ok ? ((await res.json()) as DevToken) : undefined;
  } catch {
    return undefined;
  }
}

export function SignIn({ message }: { message?: string }) {
  const [token, setToken] = useState("");
  const [devToken, setDevToken] = useState<DevToken>();
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    void fetchDevToken().then(setDevToken);
  }, []);

  const submit = (event: Event) => {
    event.preventDefault();
    const value = token.trim().replace(/^Bearer\s+/i, "");
    if (value.split(".").length !== 3) {
      setProblem("That is not a token: a token is three parts separated by dots (a JWT).");
      return;
    }
    session.signIn(value);
  };

  return (
    <main class="page narrow" id="main">
      <h1>ModelService console</h1>
      <section class="panel" aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        {message && (
          <p class="alert" role="alert">
            {message}
          </p>
        )}
        <form onSubmit={submit} noValidate>
          <label for="token">Access token</label>
          <p class="hint" id="token-hint">
            A bearer token (JWT) for your workspace. It is kept in this tab only and sent only to {serviceUrl()}.
          </p>
          <input
            id="token"
            name="token"
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
              Sign in
            </button>
          </div>
        </form>
        {devToken && (
          <div class="dev-token">
            <p>
              This service runs in dev mode and can give this page a token for the dev workspace{" "}
              <strong>{devToken.workspaceId}</strong>.
            </p>
            <button type="button" onClick={() => session.signIn(devToken.token)}>
              Use dev workspace token
            </button>
          </div>
        )}
      </section>
    </main>
  );
}

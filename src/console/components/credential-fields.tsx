import type { Model } from "../../../gen/modelservice/v1/model_pb.js";
import { dateTime } from "../format.js";
import type { FieldErrors, FormValues } from "../model-form-values.js";

interface Props {
  values: FormValues;
  set: (change: Partial<FormValues>) => void;
  errors: FieldErrors;
  /** The model as stored, when editing: what may be said of its secrets. */
  stored?: Model;
  /** Only what is stored is shown: no input to replace it. */
  readOnly?: boolean;
}

/** What the service says of the stored secrets: whether they are set and their fingerprint, never the secret. */
function storedState(model: Model | undefined): string {
  const s = model?.spec;
  if (!s || (!s.hasToken && !s.hasClientKey)) return "No credentials are set.";
  const kind = s.hasClientKey ? "Client key and secret key" : "Token";
  const updated = s.credentialsUpdatedAt ? ` · updated ${dateTime(new Date(Number(s.credentialsUpdatedAt.seconds) * 1000))}` : "";
  return `${kind}: set · fingerprint ${s.credentialFingerprint ?? "unknown"}${updated}`;
}

/**
 * The endpoint's secrets, write-only: password inputs that start empty, are
 * sent only when filled in, and are emptied once the service has them.
 */
export function CredentialFields({ values, set, errors, stored, readOnly }: Props) {
  const secret = (id: "token" | "clientKey" | "secretKey", label: string) => (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type="password"
        autocomplete="new-password"
        spellcheck={false}
        value={values[id]}
        aria-invalid={errors[id] ? true : undefined}
        aria-describedby={errors[id] ? `${id}-error credentials-hint` : "credentials-hint"}
        onInput={(e) => set({ [id]: e.currentTarget.value })}
      />
      {errors[id] && (
        <p class="field-error" id={`${id}-error`}>
          {errors[id]}
        </p>
      )}
    </div>
  );
  return (
    <fieldset class="credentials">
      <legend>Credentials</legend>
      <p class="credential-state" id="credential-state">
        {storedState(stored)}
      </p>
      {!readOnly && (
        <>
          <div class="radio-row" role="radiogroup" aria-label="Kind of credentials">
            <label class="radio">
              <input
                type="radio"
                name="credential-kind"
                checked={values.credentialKind === "token"}
                onChange={() => set({ credentialKind: "token", clientKey: "", secretKey: "" })}
              />
              Bearer token
            </label>
            <label class="radio">
              <input type="radio" name="credential-kind" checked={values.credentialKind === "keys"} onChange={() => set({ credentialKind: "keys", token: "" })} />
              Client key and secret key
            </label>
          </div>
          {values.credentialKind === "token" ? (
            secret("token", "Token")
          ) : (
            <>
              {secret("clientKey", "Client key")}
              {secret("secretKey", "Secret key")}
            </>
          )}
          <p class="hint" id="credentials-hint">
            Write-only: the service never shows a stored secret, only its fingerprint.
            {stored ? " Leave empty to keep the current credentials; anything typed here replaces them." : ""} bedrock:// endpoints use IAM and ignore a token.
          </p>
        </>
      )}
    </fieldset>
  );
}

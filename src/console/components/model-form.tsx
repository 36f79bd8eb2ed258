import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import { ModelOrigin, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { errorText } from "../error-text.js";
import { maxLengthOf } from "../form-limits.js";
import {
  changesOf,
  emptyValues,
  formFieldOf,
  modelOf,
  valuesOf,
  type FieldErrors,
  type FormValues,
  type ModelField,
} from "../model-form-values.js";
import { flashMessage, followLink, navigate, paths } from "../router.js";
import { modelService } from "../service-client.js";
import { CredentialFields } from "./credential-fields.js";
import { StatusSwitch } from "./status-switch.js";

interface Message {
  kind: "success" | "error" | "conflict";
  text: string;
  /** Field violations the service named that have no input of their own here. */
  details?: string[];
}

/** An AIP-155 request id, so a retried create never makes a second model (crypto.randomUUID needs a secure context). */
function requestId(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const textFields: ReadonlyArray<{ field: ModelField; label: string; hint?: string; inputMode?: "decimal" | "numeric" | "url" }> = [
  { field: "name", label: "Name", hint: "Required." },
  { field: "externalId", label: "External ID", hint: "Your own id for the model; unique in the workspace." },
  { field: "provider", label: "Provider", hint: "e.g. openai, anthropic" },
  { field: "family", label: "Family", hint: "e.g. gpt-4o, claude-sonnet-4.5" },
  { field: "modelUrl", label: "Endpoint URL", hint: "https://… or bedrock://<model-id>", inputMode: "url" },
  { field: "inputPrice", label: "Input price ($ per million tokens)", inputMode: "decimal" },
  { field: "outputPrice", label: "Output price ($ per million tokens)", inputMode: "decimal" },
  { field: "maxInputTokens", label: "Context window (max input tokens)", inputMode: "numeric" },
  { field: "maxOutputTokens", label: "Max output tokens", inputMode: "numeric" },
  { field: "labels", label: "Labels", hint: "key=value pairs separated by commas: env=prod, team=ai" },
];

/**
 * Create a custom model (no id) or edit one: the fields that changed are
 * sent with an update mask and the etag read, so an edit never overwrites a
 * change made meanwhile by someone else; that case is said in words.
 */
export function ModelForm({ id, onSaved }: { id?: string; onSaved: () => void }) {
  const [stored, setStored] = useState<Model>();
  const [loaded, setLoaded] = useState<FormValues>(emptyValues);
  const [values, setValues] = useState<FormValues>(emptyValues);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [message, setMessage] = useState<Message | undefined>(() => {
    const flash = flashMessage();
    return flash === undefined ? undefined : { kind: "success", text: flash };
  });
  const [loadError, setLoadError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const [loads, setLoads] = useState(0);

  useEffect(() => {
    if (id === undefined) return;
    let current = true;
    modelService.getModel({ id }).then(
      (model) => {
        if (!current) return;
        setStored(model);
        setLoaded(valuesOf(model));
        setValues(valuesOf(model));
        setLoadError(undefined);
      },
      (e: unknown) => current && setLoadError(errorText(e).message),
    );
    return () => {
      current = false;
    };
  }, [id, loads]);

  const set = (change: Partial<FormValues>) => setValues((v) => ({ ...v, ...change }));

  const reload = () => {
    setMessage(undefined);
    setErrors({});
    setLoads((n) => n + 1);
  };

  const fail = (e: unknown) => {
    const { message: text, fields } = errorText(e);
    const fieldErrors: FieldErrors = {};
    const details: string[] = [];
    for (const f of fields) {
      const field = formFieldOf(f.field);
      if (field) fieldErrors[field] = f.description;
      else details.push(`${f.field}: ${f.description}`);
    }
    setErrors(fieldErrors);
    const conflict = ConnectError.from(e).code === Code.Aborted;
    // When every complaint sits beside its input, the summary only points there.
    const summary = fields.length > 0 && details.length === 0 ? "The service refused the input: see the fields marked below." : text;
    setMessage({ kind: conflict ? "conflict" : "error", text: summary, details });
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setMessage(undefined);
    if (id === undefined) {
      const { model, errors: local } = modelOf(values);
      setErrors(local);
      if (Object.keys(local).length > 0) return setMessage({ kind: "error", text: "Some fields need fixing." });
      setSaving(true);
      try {
        const created = await modelService.createModel({ model, requestId: requestId() });
        onSaved();
        navigate(paths.model(created.metadata?.id ?? ""), `Created “${created.metadata?.name}”.`);
      } catch (e) {
        fail(e);
      } finally {
        setSaving(false);
      }
      return;
    }
    const { fields, paths: maskPaths } = changesOf(loaded, values);
    if (maskPaths.length === 0) return setMessage({ kind: "success", text: "Nothing changed." });
    const { model, errors: local } = modelOf(values, fields);
    setErrors(local);
    if (Object.keys(local).length > 0) return setMessage({ kind: "error", text: "Some fields need fixing." });
    model.metadata = { ...model.metadata, etag: stored?.metadata?.etag ?? "" };
    setSaving(true);
    try {
      const updated = await modelService.updateModel({ id, model, updateMask: { paths: maskPaths } });
      setStored(updated);
      setLoaded(valuesOf(updated));
      setValues(valuesOf(updated));
      setErrors({});
      setMessage({ kind: "success", text: `Saved “${updated.metadata?.name}”.` });
      onSaved();
    } catch (e) {
      fail(e);
    } finally {
      setSaving(false);
    }
  };

  if (loadError) {
    return (
      <section class="panel">
        <p class="alert" role="alert">
          Could not load the model. {loadError}
        </p>
        <a href={paths.catalog} onClick={followLink}>
          Back to the models
        </a>
      </section>
    );
  }
  if (id !== undefined && !stored) return <p class="summary">Loading the model…</p>;

  // Models of the platform catalog take only labels (and their status) from a workspace.
  const catalogCopy = stored?.metadata?.origin === ModelOrigin.SYSTEM;
  const deleted = stored?.metadata?.deleteTime !== undefined;
  const title = id === undefined ? "New custom model" : `Edit “${stored?.metadata?.name}”`;
  return (
    <section class="panel" aria-labelledby="form-title">
      <p>
        <a href={paths.catalog} onClick={followLink}>
          ← All models
        </a>
      </p>
      <h2 id="form-title">{title}</h2>
      {stored && (
        <div class="model-facts">
          <p>
            <span class="sub">{stored.metadata?.id}</span>
          </p>
          <StatusSwitch
            model={stored}
            onChange={(m) => {
              // The new etag too: a save after the switch must not look like someone else's change.
              setStored(m);
              onSaved();
            }}
          />
          {catalogCopy && <p class="hint">A model of the platform catalog: a workspace can change only its labels and status.</p>}
          {deleted && <p class="alert">This model is deleted; undelete it from the list of models (with “Show deleted”) to use it again.</p>}
        </div>
      )}
      <div aria-live="polite">
        {message && (
          <div class={message.kind === "success" ? "notice" : "alert"} role={message.kind === "success" ? "status" : "alert"}>
            <p>{message.text}</p>
            {message.details && message.details.length > 0 && (
              <ul>
                {message.details.map((d) => (
                  <li key={d}>{d}</li>
                ))}
              </ul>
            )}
            {message.kind === "conflict" && (
              <button type="button" onClick={reload}>
                Reload the model
              </button>
            )}
          </div>
        )}
      </div>
      <form onSubmit={submit} noValidate class="model-form">
        {textFields.map(({ field, label, hint, inputMode }) => {
          const described = [hint ? `${field}-hint` : "", errors[field] ? `${field}-error` : ""].filter((x) => x !== "").join(" ");
          return (
            <div class="field" key={field}>
              <label for={field}>{label}</label>
              <input
                id={field}
                type="text"
                inputMode={inputMode}
                maxLength={maxLengthOf(field)}
                required={field === "name"}
                disabled={catalogCopy && field !== "labels"}
                value={values[field]}
                aria-invalid={errors[field] ? true : undefined}
                aria-describedby={described || undefined}
                onInput={(e) => set({ [field]: e.currentTarget.value })}
              />
              {hint && (
                <p class="hint" id={`${field}-hint`}>
                  {hint}
                </p>
              )}
              {errors[field] && (
                <p class="field-error" id={`${field}-error`}>
                  {errors[field]}
                </p>
              )}
            </div>
          );
        })}
        <div class="field wide">
          <label for="description">Description</label>
          <textarea id="description" rows={3} maxLength={maxLengthOf("description")} disabled={catalogCopy} value={values.description} onInput={(e) => set({ description: e.currentTarget.value })} />
          {errors.description && <p class="field-error">{errors.description}</p>}
        </div>
        <CredentialFields values={values} set={set} errors={errors} stored={stored} disabled={catalogCopy} />
        <div class="actions wide">
          <button type="submit" class="primary" disabled={saving}>
            {saving ? "Saving…" : id === undefined ? "Create model" : "Save changes"}
          </button>
          <a class="button" href={paths.catalog} onClick={followLink}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

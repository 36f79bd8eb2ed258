import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "preact/hooks";
import { ModelOrigin, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { errorText } from "../error-text.js";
import { changesOf, emptyValues, formFieldOf, modelOf, valuesOf, type FieldErrors, type FormValues, type ModelField } from "../model-form-values.js";
import { flashMessage, followLink, navigate, paths } from "../router.js";
import { modelService } from "../service-client.js";
import { CredentialFields } from "./credential-fields.js";
import { ModelFields } from "./model-fields.js";

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

/** What the form may change: everything (a new or own model), only the labels (a catalog copy), or nothing. */
export type FormMode = "edit" | "labels" | "view";

export function formModeOf(model: Model | undefined): FormMode {
  if (model === undefined) return "edit";
  if (model.metadata?.deleteTime !== undefined) return "view";
  if (model.metadata?.canEdit) return "edit";
  // The platform's models take labels (and their status) from a workspace; a custom model the caller may not edit takes nothing.
  return model.metadata?.origin === ModelOrigin.SYSTEM && model.metadata.workspaceId !== "" ? "labels" : "view";
}

/** A refused call's field violations: beside the inputs they name, or as lines of their own. */
function violations(e: unknown): { fields: FieldErrors; details: string[] } {
  const fields: FieldErrors = {};
  const details: string[] = [];
  for (const f of errorText(e).fields) {
    const field = formFieldOf(f.field);
    if (field) fields[field] ??= f.description;
    else details.push(`${f.field}: ${f.description}`);
  }
  return { fields, details };
}

const fixMessage = "Some fields need fixing: see the fields marked below.";

interface Props {
  /** The model as stored; none for a new one. */
  stored?: Model;
  /** After a save: the model as the service now has it. */
  onStored?: (model: Model) => void;
  /**
   * The etag of the version the form's edits start from: the one read, or
   * written by this page. A change made elsewhere meanwhile (shown live in
   * `stored`) must not move it, or a save would not see the conflict.
   */
  baseEtag?: string;
  /** Any change to the models (the chart follows). */
  onSaved: () => void;
  /** Read the model again (after a conflict). */
  onReload?: () => void;
}

/**
 * Create a custom model or edit one: the fields that changed are sent with
 * an update mask and the etag read, so an edit never overwrites a change made
 * meanwhile by someone else; that case is said in words. The page's own checks
 * and the service's (a validate-only call) are shown together, in one pass,
 * and the first field to fix gets the focus.
 */
export function ModelForm({ stored, onStored, onSaved, onReload, baseEtag }: Props) {
  const [loaded, setLoaded] = useState<FormValues>(() => (stored ? valuesOf(stored) : emptyValues));
  const [values, setValues] = useState<FormValues>(loaded);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [message, setMessage] = useState<Message | undefined>(() => {
    const flash = flashMessage();
    return flash === undefined ? undefined : { kind: "success", text: flash };
  });
  const [saving, setSaving] = useState(false);
  // Bumped by every refused submit: the first invalid field (or the message) then takes the focus.
  const [refusals, setRefusals] = useState(0);
  const form = useRef<HTMLFormElement>(null);
  const messageBox = useRef<HTMLDivElement>(null);

  const mode = formModeOf(stored);
  const editable = (field: ModelField) => mode === "edit" || (mode === "labels" && field === "labels");
  // The model changed under the form (live-models.ts, the status switch): a form without unsaved edits shows it as it now is.
  useEffect(() => {
    if (stored !== undefined && changesOf(loaded, values).fields.length === 0) {
      const now = valuesOf(stored);
      setLoaded(now);
      setValues(now);
    }
  }, [stored]);

  const set = (change: Partial<FormValues>) => setValues((v) => ({ ...v, ...change }));

  useEffect(() => {
    if (refusals === 0) return;
    const target = form.current?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? messageBox.current;
    target?.focus({ preventScroll: true });
    target?.scrollIntoView({ block: "center" });
  }, [refusals]);

  const refuse = (fields: FieldErrors, next: Message) => {
    setErrors(fields);
    setMessage(next);
    setRefusals((n) => n + 1);
  };

  const fail = (e: unknown) => {
    const error = ConnectError.from(e);
    if (error.code === Code.Unauthenticated) {
      return refuse({}, { kind: "error", text: "Not saved: your access token stopped working. Sign in again, then save: everything you typed is still here." });
    }
    const { fields, details } = violations(e);
    // When every complaint sits beside its input, the summary only points there.
    const text = Object.keys(fields).length > 0 && details.length === 0 ? fixMessage : errorText(e).message;
    refuse(fields, { kind: error.code === Code.Aborted ? "conflict" : "error", text, details });
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setMessage(undefined);
    const id = stored?.metadata?.id;
    const change = id === undefined ? undefined : changesOf(loaded, values);
    if (change && change.paths.length === 0) return setMessage({ kind: "success", text: "Nothing changed." });
    const { model, errors: local } = modelOf(values, change?.fields);
    if (id !== undefined) model.metadata = { ...model.metadata, etag: baseEtag ?? stored?.metadata?.etag ?? "" };
    const call = (validateOnly: boolean) =>
      id === undefined
        ? modelService.createModel({ model, requestId: requestId(), validateOnly })
        : modelService.updateModel({ id, model, updateMask: { paths: change?.paths ?? [] }, validateOnly });
    setSaving(true);
    try {
      if (Object.keys(local).length > 0) {
        // The service checks the rest meanwhile, so every problem shows at once; the page's own words win for a field both name.
        const server = await call(true).then(
          () => ({ fields: {}, details: [] }),
          (e: unknown) => (ConnectError.from(e).code === Code.InvalidArgument ? violations(e) : { fields: {}, details: [] }),
        );
        return refuse({ ...server.fields, ...local }, { kind: "error", text: fixMessage, details: server.details });
      }
      const saved = await call(false);
      onSaved();
      if (id === undefined) return navigate(paths.model(saved.metadata?.id ?? ""), `Created “${saved.metadata?.name}”.`);
      setLoaded(valuesOf(saved));
      setValues(valuesOf(saved));
      setErrors({});
      setMessage({ kind: "success", text: `Saved “${saved.metadata?.name}”.` });
      onStored?.(saved);
    } catch (e) {
      fail(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <>
      <div aria-live="polite" ref={messageBox} tabIndex={-1} class="message-box">
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
            {message.kind === "conflict" && onReload && (
              <button type="button" onClick={onReload}>
                Reload the model
              </button>
            )}
          </div>
        )}
      </div>
      <form ref={form} onSubmit={submit} noValidate class="model-form">
        <ModelFields values={values} set={set} errors={errors} editable={editable} />
        <CredentialFields values={values} set={set} errors={errors} stored={stored} readOnly={mode !== "edit"} />
        <div class="actions wide">
          {mode !== "view" && (
            <button type="submit" class="primary" disabled={saving}>
              {saving ? "Saving…" : stored === undefined ? "Create model" : mode === "labels" ? "Save labels" : "Save changes"}
            </button>
          )}
          <a class="button" href={paths.catalog} onClick={followLink}>
            {mode === "view" ? "Back to the models" : "Cancel"}
          </a>
        </div>
      </form>
    </>
  );
}

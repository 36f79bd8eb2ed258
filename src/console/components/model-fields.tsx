import { ModelCapability } from "../../../gen/modelservice/v1/model_pb.js";
import { capabilitiesOf, capabilityText, type FieldErrors, type FormValues, type ModelField } from "../model-form-values.js";
import { maxLengthOf } from "../form-limits.js";

const textFields: ReadonlyArray<{ field: ModelField; label: string; hint?: string; inputMode?: "decimal" | "numeric" | "url" }> = [
  { field: "name", label: "Name", hint: "Shown in lists and pickers." },
  { field: "externalId", label: "External ID", hint: "Your own id for the model; unique in the workspace." },
  { field: "provider", label: "Provider", hint: "e.g. openai, anthropic" },
  { field: "family", label: "Family", hint: "e.g. gpt-4o, claude-sonnet-4.5" },
  { field: "modelUrl", label: "Endpoint URL", hint: "https://… or bedrock://<model-id>", inputMode: "url" },
  { field: "inputPrice", label: "Input price ($ per million tokens)", inputMode: "decimal" },
  { field: "outputPrice", label: "Output price ($ per million tokens)", inputMode: "decimal" },
  { field: "cachedInputPrice", label: "Cache-read price ($ per million tokens)", hint: "Cached input tokens, for models with prompt caching.", inputMode: "decimal" },
  { field: "maxInputTokens", label: "Context window (max input tokens)", inputMode: "numeric" },
  { field: "maxOutputTokens", label: "Max output tokens", inputMode: "numeric" },
  { field: "labels", label: "Labels", hint: "key=value pairs separated by commas: env=prod, team=ai" },
];

const capabilityChoices: ReadonlyArray<[ModelCapability, string]> = [
  [ModelCapability.VISION, "Vision (image input)"],
  [ModelCapability.TOOL_CALLING, "Tool calling"],
  [ModelCapability.REASONING, "Reasoning"],
  [ModelCapability.PROMPT_CACHING, "Prompt caching"],
];

interface Props {
  values: FormValues;
  set: (change: Partial<FormValues>) => void;
  errors: FieldErrors;
  /** Whether a field can be changed here; the others are shown read-only. */
  editable: (field: ModelField) => boolean;
}

function FieldError({ id, text }: { id: string; text?: string }) {
  return text ? (
    <p class="field-error" id={id}>
      {text}
    </p>
  ) : null;
}

/** The model's own fields: text inputs, the description and the capabilities; read-only where they cannot change. */
export function ModelFields({ values, set, errors, editable }: Props) {
  const checked = new Set(capabilitiesOf(values.capabilities));
  const toggle = (c: ModelCapability, on: boolean) => {
    const next = new Set(checked);
    if (on) next.add(c);
    else next.delete(c);
    set({ capabilities: capabilityText([...next]) });
  };
  return (
    <>
      {textFields.map(({ field, label, hint, inputMode }) => {
        const described = [hint ? `${field}-hint` : "", errors[field] ? `${field}-error` : ""].filter((x) => x !== "").join(" ");
        return (
          <div class="field" key={field}>
            <div class="label-row">
              <label for={field}>{label}</label>
              {/* Outside the label, so the input's name stays "Name"; the input itself says it is required. */}
              {field === "name" && editable("name") && (
                <span class="required" aria-hidden="true">
                  required
                </span>
              )}
            </div>
            <input
              id={field}
              type="text"
              inputMode={inputMode}
              maxLength={maxLengthOf(field)}
              required={field === "name"}
              readOnly={!editable(field)}
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
            <FieldError id={`${field}-error`} text={errors[field]} />
          </div>
        );
      })}
      <div class="field wide">
        <label for="description">Description</label>
        <textarea
          maxLength={maxLengthOf("description")}
          id="description"
          rows={3}
          readOnly={!editable("description")}
          value={values.description}
          aria-invalid={errors.description ? true : undefined}
          aria-describedby={errors.description ? "description-error" : undefined}
          onInput={(e) => set({ description: e.currentTarget.value })}
        />
        <FieldError id="description-error" text={errors.description} />
      </div>
      <fieldset class="capabilities wide">
        <legend>Capabilities</legend>
        {capabilityChoices.map(([c, label], i) => (
          <label class="radio" key={c}>
            <input
              type="checkbox"
              checked={checked.has(c)}
              // A checkbox cannot be read-only: one that may not change is disabled, and still shows its state.
              disabled={!editable("capabilities")}
              aria-invalid={i === 0 && errors.capabilities ? true : undefined}
              onChange={(e) => toggle(c, e.currentTarget.checked)}
            />
            {label}
          </label>
        ))}
        <FieldError id="capabilities-error" text={errors.capabilities} />
      </fieldset>
    </>
  );
}

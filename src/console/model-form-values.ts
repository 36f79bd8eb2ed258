import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Model, ModelSchema } from "../../gen/modelservice/v1/model_pb.js";

/**
 * The custom-model form as text fields, and its translation to the API:
 * the Model to create, or the changed fields and update mask of an edit.
 */

export interface FormValues {
  name: string;
  externalId: string;
  provider: string;
  family: string;
  description: string;
  modelUrl: string;
  inputPrice: string;
  outputPrice: string;
  cachedInputPrice: string;
  /** The ModelCapability numbers checked, ascending, comma-separated ("1,2"). */
  capabilities: string;
  maxInputTokens: string;
  maxOutputTokens: string;
  labels: string;
  credentialKind: "token" | "keys";
  token: string;
  clientKey: string;
  secretKey: string;
}

/** Form fields that map to one field of the Model. */
export type ModelField = Exclude<keyof FormValues, "credentialKind" | "token" | "clientKey" | "secretKey">;

/** Each field's update-mask path: proto field names, as google.protobuf.FieldMask holds them. */
const maskPaths: Readonly<Record<ModelField, string>> = {
  name: "metadata.name",
  externalId: "metadata.external_id",
  labels: "metadata.labels",
  provider: "spec.provider",
  family: "spec.family",
  description: "spec.description",
  modelUrl: "spec.model_url",
  inputPrice: "spec.input_price_per_million_tokens_usd",
  outputPrice: "spec.output_price_per_million_tokens_usd",
  cachedInputPrice: "spec.cached_input_price_per_million_tokens_usd",
  capabilities: "spec.capabilities",
  maxInputTokens: "spec.max_input_tokens",
  maxOutputTokens: "spec.max_output_tokens",
};

export const modelFields = Object.keys(maskPaths) as ModelField[];

/** Fields whose errors the form shows beside an input: the model fields and the secrets. */
export type FormField = ModelField | "token" | "clientKey" | "secretKey";

export type FieldErrors = Partial<Record<FormField, string>>;

export const emptyValues: FormValues = {
  name: "",
  externalId: "",
  provider: "",
  family: "",
  description: "",
  modelUrl: "",
  inputPrice: "",
  outputPrice: "",
  cachedInputPrice: "",
  capabilities: "",
  maxInputTokens: "",
  maxOutputTokens: "",
  labels: "",
  credentialKind: "token",
  token: "",
  clientKey: "",
  secretKey: "",
};

function centsText(cents: bigint | undefined): string {
  return cents === undefined ? "" : (Number(cents) / 100).toString();
}

/** The form showing a model; the secret fields start empty (the service never returns them). */
export function valuesOf(model: Model): FormValues {
  const m = model.metadata;
  const s = model.spec;
  return {
    ...emptyValues,
    name: m?.name ?? "",
    externalId: m?.externalId ?? "",
    labels: Object.entries(m?.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(", "),
    provider: s?.provider ?? "",
    family: s?.family ?? "",
    description: s?.description ?? "",
    modelUrl: s?.modelUrl ?? "",
    inputPrice: s?.inputPricePerMillionTokensUsd ?? centsText(s?.inputPricePerMillionTokens),
    outputPrice: s?.outputPricePerMillionTokensUsd ?? centsText(s?.outputPricePerMillionTokens),
    cachedInputPrice: s?.cachedInputPricePerMillionTokensUsd ?? centsText(s?.cachedInputPricePerMillionTokens),
    capabilities: capabilityText(s?.capabilities ?? []),
    maxInputTokens: s?.maxInputTokens?.toString() ?? "",
    maxOutputTokens: s?.maxOutputTokens?.toString() ?? "",
    credentialKind: s?.hasClientKey ? "keys" : "token",
  };
}

type ModelInit = MessageInitShape<typeof ModelSchema>;

export function capabilityText(capabilities: readonly number[]): string {
  return [...new Set(capabilities)].sort((a, b) => a - b).join(",");
}

export function capabilitiesOf(text: string): number[] {
  return text === "" ? [] : text.split(",").map(Number);
}

function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    if (eq <= 0) return `"${part}" is not key=value`;
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return labels;
}

function parseCount(text: string): number | undefined | string {
  if (text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 && n <= 2_147_483_647 ? n : "must be a whole number of tokens";
}

/** The secrets typed in, if any: a token, or a client key and secret key. */
function credentialsOf(v: FormValues): { token: string } | { clientKey: string; secretKey: string } | undefined {
  if (v.credentialKind === "token") return v.token === "" ? undefined : { token: v.token };
  return v.clientKey === "" && v.secretKey === "" ? undefined : { clientKey: v.clientKey, secretKey: v.secretKey };
}

/**
 * The Model holding the form's values of the given fields (all by default),
 * or the errors the page can tell without asking the service.
 */
export function modelOf(v: FormValues, fields: readonly ModelField[] = modelFields): { model: ModelInit; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const text = (s: string) => (s.trim() === "" ? undefined : s.trim());
  if (fields.includes("name") && v.name.trim() === "") errors.name = "Enter a name for the model.";
  const labels = parseLabels(v.labels);
  if (typeof labels === "string") errors.labels = labels;
  const maxInputTokens = parseCount(v.maxInputTokens);
  if (typeof maxInputTokens === "string") errors.maxInputTokens = maxInputTokens;
  const maxOutputTokens = parseCount(v.maxOutputTokens);
  if (typeof maxOutputTokens === "string") errors.maxOutputTokens = maxOutputTokens;
  const all = {
    name: v.name.trim(),
    externalId: text(v.externalId),
    labels: typeof labels === "string" ? {} : labels,
    provider: text(v.provider),
    family: text(v.family),
    description: text(v.description),
    modelUrl: text(v.modelUrl),
    inputPrice: text(v.inputPrice),
    outputPrice: text(v.outputPrice),
    cachedInputPrice: text(v.cachedInputPrice),
    capabilities: capabilitiesOf(v.capabilities),
    maxInputTokens: typeof maxInputTokens === "string" ? undefined : maxInputTokens,
    maxOutputTokens: typeof maxOutputTokens === "string" ? undefined : maxOutputTokens,
  };
  const pick = <K extends ModelField>(k: K) => (fields.includes(k) ? all[k] : undefined);
  const model: ModelInit = {
    metadata: { name: pick("name") ?? "", externalId: pick("externalId"), labels: pick("labels") ?? {} },
    spec: {
      provider: pick("provider"),
      family: pick("family"),
      description: pick("description"),
      modelUrl: pick("modelUrl"),
      inputPricePerMillionTokensUsd: pick("inputPrice"),
      outputPricePerMillionTokensUsd: pick("outputPrice"),
      cachedInputPricePerMillionTokensUsd: pick("cachedInputPrice"),
      capabilities: pick("capabilities"),
      maxInputTokens: pick("maxInputTokens"),
      maxOutputTokens: pick("maxOutputTokens"),
      credentials: credentialsOf(v),
    },
  };
  return { model, errors };
}

/** An edit: the fields that differ from the model as loaded, and the update mask naming them (and the secrets, when typed). */
export function changesOf(loaded: FormValues, v: FormValues): { fields: ModelField[]; paths: string[] } {
  const fields = modelFields.filter((f) => loaded[f].trim() !== v[f].trim());
  const paths = fields.map((f) => maskPaths[f]);
  if (credentialsOf(v)) paths.push("spec.credentials");
  return { fields, paths };
}

/** Field paths as the service names them in errors ("model.spec.modelUrl"), by their last known part. */
const violationFields: ReadonlyArray<[string, FormField]> = [
  ["metadata.name", "name"],
  ["metadata.externalId", "externalId"],
  ["metadata.labels", "labels"],
  ["spec.provider", "provider"],
  ["spec.family", "family"],
  ["spec.description", "description"],
  ["spec.modelUrl", "modelUrl"],
  ["spec.inputPricePerMillionTokens", "inputPrice"],
  ["spec.outputPricePerMillionTokens", "outputPrice"],
  ["spec.cachedInputPricePerMillionTokens", "cachedInputPrice"],
  ["spec.capabilities", "capabilities"],
  ["spec.maxInputTokens", "maxInputTokens"],
  ["spec.maxOutputTokens", "maxOutputTokens"],
  ["spec.credentials.clientKey", "clientKey"],
  ["spec.credentials.secretKey", "secretKey"],
  ["spec.credentials", "token"],
];

/** The form field a service-side field violation is about, if it is one of the form's. */
export function formFieldOf(path: string): FormField | undefined {
  const camel = path.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  for (const [prefix, field] of violationFields) {
    const at = camel.indexOf(prefix);
    if (at === 0 || (at > 0 && camel[at - 1] === ".")) return field;
  }
  return undefined;
}

import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  ApplyBundleRequestSchema,
  type ApplyBundleRequest,
  BatchCreateModelsRequestSchema,
  BatchDeleteModelsRequestSchema,
  BatchUpdateModelsRequestSchema,
  CreateModelRequestSchema,
  CreateSystemModelRequestSchema,
  DeleteModelRequestSchema,
  DeleteSystemModelRequestSchema,
  DisableModelRequestSchema,
  DuplicateModelRequestSchema,
  EnableModelRequestSchema,
  GetModelRequestSchema,
  GetSystemModelRequestSchema,
  ListModelRevisionsRequestSchema,
  ListModelsRequestSchema,
  ListSystemModelsRequestSchema,
  RotateModelCredentialsRequestSchema,
  SetModelStatusRequestSchema,
  UndeleteModelRequestSchema,
  UpdateModelRequestSchema,
  UpdateSystemModelRequestSchema,
  WatchModelsRequestSchema,
  type WatchModelsRequest,
  type CreateModelRequest,
  type CreateSystemModelRequest,
  type DuplicateModelRequest,
  type ListModelRevisionsRequest,
  type ListModelsRequest,
  type ListSystemModelsRequest,
  type RotateModelCredentialsRequest,
  type UpdateModelRequest,
  type UpdateSystemModelRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import { isDecimalUsd, usdToCents } from "../catalog/decimal-price.js";
import { FilterSyntaxError, parseCheckedFilter, parseOrderBy } from "../search/filter-expression.js";
import { credentialViolations, modelUrlProblem } from "./endpoint-rules.js";
import { isWorkspaceId } from "../auth/principal.js";
import type { FieldViolation } from "../validation/field-violations.js";
import { isModelId } from "./model-id.js";

/** Page size rules of API.md: 0 means the default, larger than the maximum is clamped. */
export const defaultPageSize = 50;
export const maxPageSize = 1000;
const maxFilterLength = 512;
const labelKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/;
const labelValuePattern = /^[A-Za-z0-9_.\/:@-]{0,63}$/;
const keyPattern = /^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,127}$/;
const requestIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const maxLabels = 64;
const maxNameLength = 200;
const maxDescriptionLength = 4000;
const maxTextLength = 128;
/** Whole-dollar digits of a price: keeps its cents far inside a safe integer. */
const maxPriceDigits = 12;
const controlCharacters = /[\u0000-\u001f\u007f]/;

export type SortOrder = "asc" | "desc";

/** Parses a label selector "env=prod,team=ai" into pairs, or says what is wrong with it. */
export function parseLabelSelector(selector: string): Array<[string, string]> | string {
  if (selector.trim() === "") return [];
  const pairs: Array<[string, string]> = [];
  for (const part of selector.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return `"${part}" is not key=value`;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!labelKeyPattern.test(key)) return `"${key}" is not a valid label key`;
    if (!labelValuePattern.test(value)) return `"${value}" is not a valid label value`;
    pairs.push([key, value]);
  }
  return pairs;
}

/** The sort order named by a request ("" means ascending), or undefined when it names none. */
export function parseSortOrder(text: string): SortOrder | undefined {
  const lower = text.toLowerCase();
  if (lower === "" || lower === "asc") return "asc";
  if (lower === "desc") return "desc";
  return undefined;
}

function workspaceIdViolations(workspaceId: string): FieldViolation[] {
  return workspaceId === "" || isWorkspaceId(workspaceId)
    ? []
    : [{ field: "workspaceId", description: "is not a valid workspace id" }];
}

function modelIdViolations(id: string): FieldViolation[] {
  return id === "" || isModelId(id) ? [] : [{ field: "id", description: `"${id.slice(0, 64)}" is not a model id (model_<ULID>)` }];
}

function listViolations(req: ListModelsRequest): FieldViolation[] {
  const out = [...workspaceIdViolations(req.workspaceId), ...limitViolations(req.limit)];
  if (parseSortOrder(req.sortOrder) === undefined) {
    out.push({ field: "sortOrder", description: `must be "asc" or "desc", not "${req.sortOrder.slice(0, 16)}"` });
  }
  for (const [field, parsed] of [
    ["filter", req.filter === "" ? undefined : parseCheckedFilter(req.filter)],
    ["orderBy", req.orderBy === "" ? undefined : parseOrderBy(req.orderBy)],
  ] as const) {
    if (parsed instanceof FilterSyntaxError) out.push({ field, description: parsed.message });
  }
  if (req.orderBy !== "" && req.sortOrder !== "") out.push({ field: "sortOrder", description: "cannot be combined with orderBy" });
  const labels = parseLabelSelector(req.labels);
  if (typeof labels === "string") out.push({ field: "labels", description: labels.slice(0, 200) });
  for (const [field, value] of [
    ["prefix", req.prefix],
    ["query", req.query],
    ["bundleKey", req.bundleKey],
    ["labels", req.labels],
    ["cursor", req.cursor],
  ] as const) {
    if (value.length > maxFilterLength) out.push({ field, description: `is longer than ${maxFilterLength} characters` });
  }
  return out;
}

function requestIdViolations(requestId: string): FieldViolation[] {
  return requestId === "" || requestIdPattern.test(requestId)
    ? []
    : [{ field: "requestId", description: "must be 1-128 letters, digits, '.', '_', ':' or '-'" }];
}

function limitViolations(limit: number): FieldViolation[] {
  return limit < 0 ? [{ field: "limit", description: "must not be negative" }] : [];
}

function textProblem(value: string, max: number): string | undefined {
  if (value.length > max) return `is longer than ${max} characters`;
  if (controlCharacters.test(value)) return "must not contain control characters";
  return undefined;
}

function priceViolations(path: string, cents: bigint | undefined, usd: string | undefined): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (cents !== undefined && (cents < 0n || cents > BigInt(Number.MAX_SAFE_INTEGER))) {
    out.push({ field: path, description: "must be a non-negative number of cents" });
  }
  if (usd !== undefined && !isDecimalUsd(usd)) {
    out.push({ field: `${path}Usd`, description: 'must be a plain decimal number of dollars, like "0.075" or "15"' });
  } else if (usd !== undefined && (usd.length > 32 || usd.split(".")[0]!.length > maxPriceDigits)) {
    out.push({ field: `${path}Usd`, description: `must be below 10^${maxPriceDigits} dollars, with at most 32 characters` });
  } else if (usd !== undefined && cents !== undefined && BigInt(usdToCents(usd)) !== cents) {
    out.push({ field: path, description: `disagrees with ${path}Usd ("${usd}" is ${usdToCents(usd)} cents)` });
  }
  return out;
}

/** The rules of a Model in a request body (create, or the values of an update). */
function modelViolations(model: Model | undefined, prefix: string): FieldViolation[] {
  if (!model) return [];
  const out: FieldViolation[] = [];
  const add = (field: string, problem: string | undefined) => {
    if (problem) out.push({ field: `${prefix}.${field}`, description: problem });
  };
  const m = model.metadata;
  if (m) {
    if (m.name !== "" && m.name.trim() === "") add("metadata.name", "must not be blank");
    add("metadata.name", textProblem(m.name, maxNameLength));
    if (m.externalId !== undefined && !keyPattern.test(m.externalId)) add("metadata.externalId", "must be 1-128 letters, digits, '.', '_', ':', '/' or '-'");
    if (m.bundleKey !== undefined && !keyPattern.test(m.bundleKey)) add("metadata.bundleKey", "must be 1-128 letters, digits, '.', '_', ':', '/' or '-'");
    const labels = Object.entries(m.labels);
    if (labels.length > maxLabels) add("metadata.labels", `has more than ${maxLabels} labels`);
    for (const [key, value] of labels) {
      if (!labelKeyPattern.test(key)) add("metadata.labels", `"${key.slice(0, 64)}" is not a valid label key`);
      else if (!labelValuePattern.test(value)) add(`metadata.labels.${key}`, "is not a valid label value");
    }
  }
  const s = model.spec;
  if (s) {
    if (s.family !== undefined) add("spec.family", textProblem(s.family, maxTextLength));
    if (s.provider !== undefined) add("spec.provider", textProblem(s.provider, maxTextLength));
    if (s.description !== undefined && s.description.length > maxDescriptionLength) {
      add("spec.description", `is longer than ${maxDescriptionLength} characters`);
    }
    for (const [name, value] of [
      ["maxInputTokens", s.maxInputTokens],
      ["maxOutputTokens", s.maxOutputTokens],
    ] as const) {
      if (value !== undefined && value <= 0) add(`spec.${name}`, "must be positive");
    }
    for (const v of [
      ...priceViolations("spec.inputPricePerMillionTokens", s.inputPricePerMillionTokens, s.inputPricePerMillionTokensUsd),
      ...priceViolations("spec.outputPricePerMillionTokens", s.outputPricePerMillionTokens, s.outputPricePerMillionTokensUsd),
      ...priceViolations("spec.cachedInputPricePerMillionTokens", s.cachedInputPricePerMillionTokens, s.cachedInputPricePerMillionTokensUsd),
    ]) {
      out.push({ field: `${prefix}.${v.field}`, description: v.description });
    }
    if (s.modelUrl !== undefined) add("spec.modelUrl", modelUrlProblem(s.modelUrl));
    if (s.credentials) out.push(...credentialViolations(s.credentials, `${prefix}.spec.credentials`));
  }
  return out;
}

function createViolations(req: CreateModelRequest | CreateSystemModelRequest): FieldViolation[] {
  const out = modelViolations(req.model, "model");
  const s = req.model?.spec;
  if (s?.credentials && s.modelUrl === undefined) {
    out.push({ field: "model.spec.modelUrl", description: "is required when credentials are given" });
  }
  return [...out, ...requestIdViolations(req.requestId)];
}

function updateViolations(req: UpdateModelRequest | UpdateSystemModelRequest): FieldViolation[] {
  return [...modelViolations(req.model, "model"), ...requestIdViolations(req.requestId)];
}

type Rule<T extends Message> = (request: T) => FieldViolation[];
const rules = new Map<string, Rule<Message>>();

function rule<T extends Message>(schema: DescMessage, check: Rule<T>): void {
  rules.set(schema.typeName, check as Rule<Message>);
}

type ModelRequest = { workspaceId: string; id: string };
const modelRequest: Rule<Message & ModelRequest> = (req) => [
  ...workspaceIdViolations(req.workspaceId),
  ...modelIdViolations(req.id),
];

rule(ListModelsRequestSchema, listViolations);
rule(GetModelRequestSchema, modelRequest);
rule(SetModelStatusRequestSchema, modelRequest);
rule(EnableModelRequestSchema, modelRequest);
rule(DisableModelRequestSchema, modelRequest);
rule(CreateModelRequestSchema, (req: CreateModelRequest) => [...workspaceIdViolations(req.workspaceId), ...createViolations(req)]);
rule(UpdateModelRequestSchema, (req: UpdateModelRequest) => [...modelRequest(req), ...updateViolations(req)]);
rule(RotateModelCredentialsRequestSchema, (req: RotateModelCredentialsRequest) => {
  const out = modelRequest(req);
  const c = req.credentials;
  if (c) {
    out.push(...credentialViolations(c, "credentials"));
    if (c.token === "" && c.clientKey === "" && c.secretKey === "") {
      out.push({ field: "credentials", description: "must set token, or clientKey and secretKey" });
    }
  }
  return out;
});
rule(DeleteModelRequestSchema, (req: ModelRequest & Message & { requestId: string }) => [...modelRequest(req), ...requestIdViolations(req.requestId)]);
rule(UndeleteModelRequestSchema, (req: ModelRequest & Message & { requestId: string }) => [...modelRequest(req), ...requestIdViolations(req.requestId)]);
rule(DuplicateModelRequestSchema, (req: DuplicateModelRequest) => {
  const out = [...modelRequest(req), ...requestIdViolations(req.requestId)];
  const problem = textProblem(req.name, maxNameLength);
  if (problem) out.push({ field: "name", description: problem });
  return out;
});
rule(ListModelRevisionsRequestSchema, (req: ListModelRevisionsRequest) => [...modelRequest(req), ...limitViolations(req.limit)]);
rule(ListSystemModelsRequestSchema, (req: ListSystemModelsRequest) => {
  const out = limitViolations(req.limit);
  if (req.prefix.length > maxFilterLength) out.push({ field: "prefix", description: `is longer than ${maxFilterLength} characters` });
  return out;
});
const systemModelRequest = (req: Message & { id: string }) => modelIdViolations(req.id);
rule(GetSystemModelRequestSchema, systemModelRequest);
rule(DeleteSystemModelRequestSchema, (req: Message & { id: string; requestId: string }) => [
  ...modelIdViolations(req.id),
  ...requestIdViolations(req.requestId),
]);
rule(CreateSystemModelRequestSchema, createViolations);
const maxBatchSize = 1000;
const batchRule = (req: Message & { workspaceId: string; requests?: unknown[]; ids?: unknown[] }) => {
  const field = req.requests ? "requests" : "ids";
  const size = (req.requests ?? req.ids ?? []).length;
  const out = workspaceIdViolations(req.workspaceId);
  if (size === 0) out.push({ field, description: "must list at least one item" });
  if (size > maxBatchSize) out.push({ field, description: `must list at most ${maxBatchSize} items, not ${size}` });
  return out;
};
rule(BatchCreateModelsRequestSchema, batchRule);
rule(BatchUpdateModelsRequestSchema, batchRule);
rule(BatchDeleteModelsRequestSchema, batchRule);
rule(ApplyBundleRequestSchema, (req: ApplyBundleRequest) => {
  const out = workspaceIdViolations(req.workspaceId);
  if (req.bundleKey !== "" && !keyPattern.test(req.bundleKey)) {
    out.push({ field: "bundleKey", description: "must be 1-128 letters, digits, '.', '_', ':', '/' or '-'" });
  }
  if (req.models.length > maxBatchSize) out.push({ field: "models", description: `must list at most ${maxBatchSize} models` });
  return out;
});
rule(UpdateSystemModelRequestSchema, (req: UpdateSystemModelRequest) => [...modelIdViolations(req.id), ...updateViolations(req)]);
rule(WatchModelsRequestSchema, (req: WatchModelsRequest) => {
  const out = workspaceIdViolations(req.workspaceId);
  const filter = req.filter === "" ? undefined : parseCheckedFilter(req.filter);
  if (filter instanceof FilterSyntaxError) out.push({ field: "filter", description: filter.message });
  if (req.resumeToken.length > 128) out.push({ field: "resumeToken", description: "is longer than 128 characters" });
  return out;
});

/** The input rules that the descriptors cannot express, for a request of any method. */
export function modelRuleViolations(schema: DescMessage, request: Message): FieldViolation[] {
  return rules.get(schema.typeName)?.(request) ?? [];
}

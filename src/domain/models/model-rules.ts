import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";
import { ModelSpecSchema, type Model, type ModelSpec } from "../../../gen/modelservice/v1/model_pb.js";
import { ContextTierSchema } from "../../../gen/modelservice/v1/pricing_pb.js";
import {
  AcknowledgeUpstreamChangeRequestSchema,
  ApplyBundleRequestSchema,
  BatchCreateModelsRequestSchema,
  BatchEstimateCostRequestSchema,
  BatchDeleteModelsRequestSchema,
  BatchUpdateModelsRequestSchema,
  CreateModelRequestSchema,
  CreateSystemModelRequestSchema,
  DeleteModelRequestSchema,
  DeleteSystemModelRequestSchema,
  DisableModelRequestSchema,
  DuplicateModelRequestSchema,
  EstimateCostRequestSchema,
  EnableModelRequestSchema,
  GetModelRequestSchema,
  GetSystemModelRequestSchema,
  ListModelRevisionsRequestSchema,
  ListModelsRequestSchema,
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
  type ListModelsRequest,
  type RotateModelCredentialsRequest,
  type UpdateModelRequest,
  type UpdateSystemModelRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import { fieldRules, pageSizeOf, scalarProblem } from "../../proto/field-rules.js";
import { usdToCents } from "../catalog/decimal-price.js";
import { credentialViolations, modelUrlProblem } from "./endpoint-rules.js";
import { isWorkspaceId } from "../auth/principal.js";
import { fieldRuleViolations } from "../validation/field-rules.js";
import type { FieldViolation } from "../validation/field-violations.js";
import { listFilterViolations, listOrderViolations } from "./list-query.js";
import { isModelId } from "./model-id.js";
import { FilterSyntaxError, parseCheckedFilter } from "../search/filter-expression.js";

/** Page size rules of API.md, from the rulebook: 0 means the default, larger than the maximum is clamped. */
export const { defaultSize: defaultPageSize, maxSize: maxPageSize } = pageSizeOf(ListModelsRequestSchema.field.limit);
const controlCharacters = /[\u0000-\u001f\u007f]/;

function workspaceIdViolations(workspaceId: string): FieldViolation[] {
  return workspaceId === "" || isWorkspaceId(workspaceId)
    ? []
    : [{ field: "workspaceId", description: "is not a valid workspace id" }];
}

function modelIdViolations(id: string): FieldViolation[] {
  return id === "" || isModelId(id) ? [] : [{ field: "id", description: `"${id.slice(0, 64)}" is not a model id (model_<ULID>)` }];
}

/** Lengths, patterns and ranges are the rulebook's (field-rules.ts); text fields also refuse control characters. */
function textProblem(value: string): string | undefined {
  return controlCharacters.test(value) ? "must not contain control characters" : undefined;
}

/** Cents and exact dollars given together must agree; each on its own obeys the rulebook. */
function priceViolations(path: string, cents: bigint | undefined, usd: string | undefined, usdField: DescField): FieldViolation[] {
  const usdRules = fieldRules(usdField)!;
  if (usd === undefined || cents === undefined || scalarProblem(usdRules, usd) !== undefined) return [];
  return BigInt(usdToCents(usd)) === cents
    ? []
    : [{ field: path, description: `disagrees with ${path}Usd ("${usd}" is ${usdToCents(usd)} cents)` }];
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
    add("metadata.name", textProblem(m.name));
  }
  const s = model.spec;
  if (s) {
    if (s.family !== undefined) add("spec.family", textProblem(s.family));
    if (s.provider !== undefined) add("spec.provider", textProblem(s.provider));
    const f = ModelSpecSchema.field;
    for (const v of [
      ...priceViolations("spec.inputPricePerMillionTokens", s.inputPricePerMillionTokens, s.inputPricePerMillionTokensUsd, f.inputPricePerMillionTokensUsd),
      ...priceViolations("spec.outputPricePerMillionTokens", s.outputPricePerMillionTokens, s.outputPricePerMillionTokensUsd, f.outputPricePerMillionTokensUsd),
      ...priceViolations(
        "spec.cachedInputPricePerMillionTokens",
        s.cachedInputPricePerMillionTokens,
        s.cachedInputPricePerMillionTokensUsd,
        f.cachedInputPricePerMillionTokensUsd,
      ),
    ]) {
      out.push({ field: `${prefix}.${v.field}`, description: v.description });
    }
    if (s.modelUrl !== undefined && scalarProblem(fieldRules(ModelSpecSchema.field.modelUrl)!, s.modelUrl) === undefined) {
      add("spec.modelUrl", modelUrlProblem(s.modelUrl));
    }
    if (s.credentials) out.push(...credentialViolations(s.credentials, `${prefix}.spec.credentials`));
    out.push(...pricingViolations(s, `${prefix}.spec`));
  }
  return out;
}

/** The context tiers: each checked by the rulebook, ascending. */
function pricingViolations(s: ModelSpec, prefix: string): FieldViolation[] {
  const pricing = s.pricing;
  if (!pricing) return [];
  const out: FieldViolation[] = [];
  let previous = 0n;
  pricing.contextTiers.forEach((tier, i) => {
    const path = `${prefix}.pricing.contextTiers[${i}]`;
    for (const v of fieldRuleViolations(ContextTierSchema, tier)) out.push({ field: `${path}.${v.field}`, description: v.description });
    if (tier.aboveInputTokens <= previous) {
      out.push({ field: `${path}.aboveInputTokens`, description: "must be greater than the tier before it" });
    }
    previous = tier.aboveInputTokens;
  });
  return out;
}

function createViolations(req: CreateModelRequest | CreateSystemModelRequest): FieldViolation[] {
  const out = modelViolations(req.model, "model");
  const s = req.model?.spec;
  if (s?.credentials && s.modelUrl === undefined) {
    out.push({ field: "model.spec.modelUrl", description: "is required when credentials are given" });
  }
  out.push(...priceOverrideViolations(req.model));
  return out;
}

/** A price override belongs to a workspace's copy of a catalog model (UpdateModel there); a model of one's own sets spec.pricing. */
function priceOverrideViolations(model: Model | undefined): FieldViolation[] {
  return model?.spec?.priceOverride
    ? [{ field: "model.spec.priceOverride", description: "applies only to a workspace's copy of a catalog model; set spec.pricing here instead" }]
    : [];
}

function updateViolations(req: UpdateModelRequest | UpdateSystemModelRequest): FieldViolation[] {
  return modelViolations(req.model, "model");
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

rule(ListModelsRequestSchema, (req: ListModelsRequest) => [...listOrderViolations(req), ...listFilterViolations(req)]);
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
rule(DeleteModelRequestSchema, modelRequest);
rule(UndeleteModelRequestSchema, modelRequest);
rule(DuplicateModelRequestSchema, (req: DuplicateModelRequest) => {
  const out = modelRequest(req);
  const problem = textProblem(req.name);
  if (problem) out.push({ field: "name", description: problem });
  return out;
});
rule(ListModelRevisionsRequestSchema, modelRequest);
rule(EstimateCostRequestSchema, modelRequest);
rule(AcknowledgeUpstreamChangeRequestSchema, modelRequest);
const systemModelRequest = (req: Message & { id: string }) => modelIdViolations(req.id);
rule(GetSystemModelRequestSchema, systemModelRequest);
rule(DeleteSystemModelRequestSchema, systemModelRequest);
rule(CreateSystemModelRequestSchema, createViolations);
const workspaceRequest = (req: Message & { workspaceId: string }) => workspaceIdViolations(req.workspaceId);
rule(BatchCreateModelsRequestSchema, workspaceRequest);
rule(BatchUpdateModelsRequestSchema, workspaceRequest);
rule(BatchDeleteModelsRequestSchema, workspaceRequest);
rule(ApplyBundleRequestSchema, workspaceRequest);
rule(BatchEstimateCostRequestSchema, workspaceRequest);
rule(UpdateSystemModelRequestSchema, (req: UpdateSystemModelRequest) => [
  ...modelIdViolations(req.id),
  ...updateViolations(req),
  ...priceOverrideViolations(req.model),
]);
rule(WatchModelsRequestSchema, (req: WatchModelsRequest) => {
  const out = workspaceIdViolations(req.workspaceId);
  const filter = req.filter === "" ? undefined : parseCheckedFilter(req.filter);
  if (filter instanceof FilterSyntaxError) out.push({ field: "filter", description: filter.message });
  if (req.resumeToken.length > 128) out.push({ field: "resumeToken", description: "is longer than 128 characters" });
  return out;
});

/** The input rules of a request of any method: the rulebook's (read from the proto), then those it cannot express. */
export function modelRuleViolations(schema: DescMessage, request: Message): FieldViolation[] {
  return [...fieldRuleViolations(schema, request), ...(rules.get(schema.typeName)?.(request) ?? [])];
}

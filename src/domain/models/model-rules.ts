import type { DescMessage, Message } from "@bufbuild/protobuf";
import {
  DisableModelRequestSchema,
  EnableModelRequestSchema,
  GetModelRequestSchema,
  ListModelsRequestSchema,
  SetModelStatusRequestSchema,
  type ListModelsRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import { isWorkspaceId } from "../auth/principal.js";
import type { FieldViolation } from "../validation/field-violations.js";
import { isModelId } from "./model-id.js";

/** Page size rules of API.md: 0 means the default, larger than the maximum is clamped. */
export const defaultPageSize = 50;
export const maxPageSize = 1000;
const maxFilterLength = 512;
const labelKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/;
const labelValuePattern = /^[A-Za-z0-9_.\/:@-]{0,63}$/;

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
  const out = workspaceIdViolations(req.workspaceId);
  if (req.limit < 0) out.push({ field: "limit", description: "must not be negative" });
  if (parseSortOrder(req.sortOrder) === undefined) {
    out.push({ field: "sortOrder", description: `must be "asc" or "desc", not "${req.sortOrder.slice(0, 16)}"` });
  }
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

/** The input rules that the descriptors cannot express, for a request of any method. */
export function modelRuleViolations(schema: DescMessage, request: Message): FieldViolation[] {
  return rules.get(schema.typeName)?.(request) ?? [];
}

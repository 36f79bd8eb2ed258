import { ListModelsRequestSchema, type ListModelsRequest } from "../../../gen/modelservice/v1/model_service_pb.js";
import { ModelStatus, ResourceMetadataSchema } from "../../../gen/modelservice/v1/model_pb.js";
import type { CheckedFilterNode, OrderTerm } from "../../storage/model-filter.js";
import type { ModelListQuery } from "../../storage/model-store.js";
import { fieldRules, matchesPattern, scalarProblem } from "../../proto/field-rules.js";
import { isWorkspaceId } from "../auth/principal.js";
import { FilterSyntaxError, parseCheckedFilter, parseOrderBy } from "../search/filter-expression.js";
import type { FieldViolation } from "../validation/field-violations.js";
import { storedStatus } from "./model-message.js";

/** The filters ListModels and ExportModels share (ExportModelsRequest repeats these fields of ListModelsRequest). */
export type ListFilters = Pick<ListModelsRequest, "workspaceId" | "prefix" | "query" | "status" | "bundleKey" | "labels" | "filter" | "showDeleted">;

/** The part of a store query the shared filters decide. */
export type FilterQuery = Pick<
  ModelListQuery,
  "workspaceId" | "prefix" | "search" | "status" | "bundleKey" | "labels" | "showDeleted" | "showHidden" | "filter"
>;

const filterRules = fieldRules(ListModelsRequestSchema.field.filter)!;
const orderByRules = fieldRules(ListModelsRequestSchema.field.orderBy)!;
const labelRules = fieldRules(ResourceMetadataSchema.field.labels)!;
const parsedFilters = new WeakMap<ListFilters, CheckedFilterNode | FilterSyntaxError>();
const parsedOrders = new WeakMap<ListModelsRequest, OrderTerm[] | FilterSyntaxError>();

/** Parses a label selector "env=prod,team=ai" into pairs, or says what is wrong with it. */
export function parseLabelSelector(selector: string): Array<[string, string]> | string {
  if (selector.trim() === "") return [];
  const pairs: Array<[string, string]> = [];
  for (const part of selector.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return `"${part}" is not key=value`;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!matchesPattern(labelRules.keyPattern!, key)) return `"${key}" is not a valid label key`;
    if (!matchesPattern(labelRules.valuePattern!, value)) return `"${value}" is not a valid label value`;
    pairs.push([key, value]);
  }
  return pairs;
}


/**
 * The request's filter, parsed once per request message: validation checks
 * it and the query then uses the same tree. Undefined without a filter.
 */
function parsedFilter(req: ListFilters): CheckedFilterNode | FilterSyntaxError | undefined {
  if (req.filter === "") return undefined;
  let found = parsedFilters.get(req);
  if (found === undefined) {
    found = parseCheckedFilter(req.filter);
    parsedFilters.set(req, found);
  }
  return found;
}

export type SortOrder = "asc" | "desc";

/** The sort order named by a request ("" means ascending), or undefined when it names none. */
export function parseSortOrder(text: string): SortOrder | undefined {
  const lower = text.toLowerCase();
  if (lower === "" || lower === "asc") return "asc";
  if (lower === "desc") return "desc";
  return undefined;
}

/** The request's orderBy, parsed once per request message as its filter is; [] without one. */
export function listOrder(req: ListModelsRequest): OrderTerm[] | FilterSyntaxError {
  if (req.orderBy === "") return [];
  let found = parsedOrders.get(req);
  if (found === undefined) {
    found = parseOrderBy(req.orderBy);
    parsedOrders.set(req, found);
  }
  return found;
}

/** ListModels' own checks beyond the shared filters: orderBy (within the rulebook's length) and sortOrder. */
export function listOrderViolations(req: ListModelsRequest): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (parseSortOrder(req.sortOrder) === undefined) {
    out.push({ field: "sortOrder", description: `must be "asc" or "desc", not "${req.sortOrder.slice(0, 16)}"` });
  }
  const order = scalarProblem(orderByRules, req.orderBy) === undefined ? listOrder(req) : undefined;
  if (order instanceof FilterSyntaxError) out.push({ field: "orderBy", description: order.message });
  if (req.orderBy !== "" && req.sortOrder !== "") out.push({ field: "sortOrder", description: "cannot be combined with orderBy" });
  return out;
}

/**
 * Full-text search terms of a query: its words, each matched as a prefix.
 * undefined when the query has words but none with a letter or digit, which
 * nothing can match.
 */
function searchTerms(query: string): string[] | undefined {
  const words = query.split(/\s+/).filter((w) => w !== "");
  const terms = words.filter((w) => /[\p{L}\p{N}]/u.test(w));
  return words.length > 0 && terms.length === 0 ? undefined : terms;
}

/** What is wrong with the shared filters beyond the rulebook's lengths (which field-rules.ts checks). */
export function listFilterViolations(req: ListFilters): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (req.workspaceId !== "" && !isWorkspaceId(req.workspaceId)) out.push({ field: "workspaceId", description: "is not a valid workspace id" });
  const labels = parseLabelSelector(req.labels);
  if (typeof labels === "string") out.push({ field: "labels", description: labels.slice(0, 200) });
  // A filter over the rulebook's length is refused by the rulebook alone: one violation per field.
  const filter = scalarProblem(filterRules, req.filter) === undefined ? parsedFilter(req) : undefined;
  if (filter instanceof FilterSyntaxError) out.push({ field: "filter", description: filter.message });
  return out;
}

/** The store query of a checked request's filters, in `workspaceId`; undefined when nothing can match. */
export function filterQuery(workspaceId: string, req: ListFilters): FilterQuery | undefined {
  const search = searchTerms(req.query);
  if (search === undefined) return undefined;
  return {
    workspaceId,
    prefix: req.prefix || undefined,
    search,
    status: req.status === ModelStatus.UNSPECIFIED ? undefined : storedStatus(req.status),
    bundleKey: req.bundleKey || undefined,
    labels: [...(parseLabelSelector(req.labels) as Array<[string, string]>)].sort(),
    showDeleted: req.showDeleted,
    showHidden: false,
    filter: parsedFilter(req) as CheckedFilterNode | undefined,
  };
}

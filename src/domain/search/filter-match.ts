import type { ModelRecord } from "../../storage/model-store.js";
import type { CheckedFilterNode, FilterComparator, TextMatch } from "./filter-expression.js";

type Scalar = string | number | boolean | null;

/** The value of a filterable scalar field on a stored model (null: unset), as the SQL compiler reads its column. */
function scalar(r: ModelRecord, field: string): Scalar {
  const s = r.spec;
  switch (field) {
    case "metadata.name": return r.name;
    case "metadata.externalId": return r.externalId;
    case "metadata.bundleKey": return r.bundleKey;
    case "metadata.createdAt": return r.createdAt;
    case "metadata.updatedAt": return r.updatedAt;
    case "metadata.origin": return r.origin;
    case "spec.provider": return s.provider;
    case "spec.family": return s.family;
    case "spec.description": return s.description;
    case "spec.modelUrl": return s.modelUrl;
    case "spec.status": return r.status;
    case "spec.inputPricePerMillionTokens": return s.inputPriceCents;
    case "spec.outputPricePerMillionTokens": return s.outputPriceCents;
    case "spec.cachedInputPricePerMillionTokens": return s.cachedInputPriceCents;
    case "spec.maxInputTokens": return s.maxInputTokens;
    case "spec.maxOutputTokens": return s.maxOutputTokens;
    case "spec.hasToken": return r.credentials.hasToken;
    case "spec.lifecycle.stage": return typeof s.lifecycle?.stage === "string" ? s.lifecycle.stage : null;
    default:
      if (field.startsWith("spec.pricing.base.")) {
        const price = (s.pricing?.base as Record<string, unknown> | undefined)?.[field.slice("spec.pricing.base.".length)];
        return typeof price === "string" ? Number(price) : null;
      }
      throw new Error(`no value for filter field ${JSON.stringify(field)}`);
  }
}

function ordered(a: string | number, op: FilterComparator, b: string | number): boolean {
  switch (op) {
    case "=": return a === b;
    case "!=": return a !== b;
    case "<": return a < b;
    case "<=": return a <= b;
    case ">": return a > b;
    case ">=": return a >= b;
  }
}

/** A wildcard match as the store's LIKE does it: case-insensitive for ASCII letters only. */
function likeMatch(text: string, parts: string[]): boolean {
  const fold = (t: string) => t.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const escaped = parts.map((p) => fold(p).replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join("[\\s\\S]*")}$`).test(fold(text));
}

function textTest(text: string, op: FilterComparator, value: TextMatch): boolean {
  return value.kind === "exact" ? ordered(text, op, value.value) : likeMatch(text, value.parts);
}

/** Two-valued like the SQL: `!=` is the negation of `=`, and an unset field satisfies nothing else. */
function compare(value: Scalar, op: FilterComparator, test: (v: string | number | boolean, op: FilterComparator) => boolean): boolean {
  const positive = value !== null && test(value, op === "!=" ? "=" : op);
  return op === "!=" ? !positive : positive;
}

/**
 * Whether a stored model matches a checked ListModels filter: the in-memory
 * twin of the store's SQL filter (its filter-sql.ts), for models that are
 * not in a table (WatchModels evaluates each change's before and after
 * states).
 */
export function matchesFilter(node: CheckedFilterNode, r: ModelRecord): boolean {
  switch (node.kind) {
    case "and": return node.children.every((c) => matchesFilter(c, r));
    case "or": return node.children.some((c) => matchesFilter(c, r));
    case "not": return !matchesFilter(node.child, r);
    case "text": return compare(scalar(r, node.field), node.op, (v, op) => textTest(v as string, op, node.value));
    case "number": return compare(scalar(r, node.field), node.op, (v, op) => ordered(v as number, op, node.value));
    case "enum": return compare(scalar(r, node.field), node.op, (v) => v === node.value);
    case "bool": return compare(scalar(r, node.field), node.op, (v) => v === node.value);
    case "present":
      if (node.field === "metadata.labels") return Object.keys(r.labels).length > 0;
      if (node.field === "spec.capabilities") return r.spec.capabilities.length > 0;
      if (node.field === "spec.modalities.input" || node.field === "spec.modalities.output") return modalities(r, node.field).length > 0;
      return scalar(r, node.field) !== null;
    case "labelKey": return Object.keys(r.labels).some((key) => textTest(key, "=", node.key));
    case "labelValue": {
      const value = Object.hasOwn(r.labels, node.key) ? r.labels[node.key]! : null;
      return compare(value, node.op, (v, op) => textTest(v as string, op, node.value));
    }
    case "capability": return r.spec.capabilities.includes(node.value);
    case "modality": return modalities(r, node.field).includes(node.value);
  }
}

function modalities(r: ModelRecord, field: "spec.modalities.input" | "spec.modalities.output"): unknown[] {
  const list = r.spec.modalities?.[field === "spec.modalities.input" ? "input" : "output"];
  return Array.isArray(list) ? list : [];
}

import { ModelCapability, ModelOrigin, ModelStatus } from "../../../gen/modelservice/v1/model_pb.js";
import { LifecycleStage, Modality } from "../../../gen/modelservice/v1/pricing_pb.js";
import type {
  CheckedFilterNode,
  FilterBoolField,
  FilterComparator,
  FilterEnumField,
  FilterModalityField,
  FilterNumberField,
  FilterOptionalField,
  FilterTextField,
  OrderTerm,
  SortField,
  TextMatch,
} from "../../storage/model-filter.js";
import { filterFields, sortFields, type FilterField } from "../../storage/model-filter.js";
import { columnOf, failAt, FilterSyntaxError, maxFilterDepth, maxOrderByLength, quote, type FilterCompare, type FilterNode } from "./filter-syntax.js";

/** White space between orderBy terms. */
const space = /\s/;

/*
 * The meaning of a filter and an orderBy: which fields there are (by the
 * storage's filterable and sortable field table), their aliases, and the
 * value types each compares with. filter-expression.ts parses the syntax.
 */

type FieldSpec =
  | { type: "text"; field: FilterTextField; optional: boolean }
  | { type: "number" | "timestamp"; field: FilterNumberField; optional: boolean }
  | { type: "enum"; field: FilterEnumField; optional: boolean; values: readonly string[] }
  | { type: "bool"; field: FilterBoolField; optional: false }
  | { type: "labels"; field: "metadata.labels"; optional: true }
  | { type: "capabilities"; field: "spec.capabilities"; optional: true }
  | { type: "modalities"; field: FilterModalityField; optional: true };

function enumNames(e: Record<string, string | number>, prefix: string): string[] {
  return Object.keys(e)
    .filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED")
    .map((k) => prefix + k);
}

const statusNames = enumNames(ModelStatus, "MODEL_STATUS_");
const originNames = enumNames(ModelOrigin, "MODEL_ORIGIN_");
const capabilityNames = enumNames(ModelCapability, "MODEL_CAPABILITY_");

/** The enum fields' values, by field. */
const enumValues: Readonly<Record<FilterEnumField, readonly string[]>> = {
  "metadata.origin": originNames,
  "spec.status": statusNames,
  "spec.lifecycle.stage": enumNames(LifecycleStage, "LIFECYCLE_STAGE_"),
};
const modalityNames = enumNames(Modality, "MODALITY_");

const fieldSpecs = (Object.keys(filterFields) as FilterField[]).map((field) => {
  const { type, optional } = filterFields[field];
  return (type === "enum" ? { type, field, optional, values: enumValues[field as FilterEnumField] } : { type, field, optional }) as FieldSpec;
});

const aliases: ReadonlyMap<string, string> = new Map([
  ["name", "metadata.name"],
  ["provider", "spec.provider"],
  ["family", "spec.family"],
  ["status", "spec.status"],
  ["labels", "metadata.labels"],
  // The pricing, lifecycle and modality fields also by their proto names ("spec.pricing.base.input_usd_per_mtok").
  ...Object.keys(filterFields)
    .filter((f) => /^spec\.(pricing|lifecycle|modalities)\./.test(f))
    .map((f) => [f.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase()).replace(/(\d)([mh])_usd/, "_$1$2_usd"), f] as [string, string]),
]);

const fieldsByName: ReadonlyMap<string, FieldSpec> = new Map(fieldSpecs.map((s) => [s.field, s]));

function lookupField(name: string): FieldSpec | undefined {
  return fieldsByName.get(aliases.get(name) ?? name);
}

const sortable: ReadonlySet<string> = new Set<SortField>(sortFields);

// ---------------------------------------------------------------------------
// Checking

/** Deeper than any tree parseFilter builds; guards hand-made trees against stack exhaustion. */
const maxTreeDepth = 4 * maxFilterDepth + 8;

/** Resolves fields and value types of a parsed filter. */
export function checkFilter(node: FilterNode): CheckedFilterNode | FilterSyntaxError {
  try {
    return check(node, 0);
  } catch (e) {
    if (e instanceof FilterSyntaxError) return e;
    throw e;
  }
}

function check(node: FilterNode, depth: number): CheckedFilterNode {
  if (depth > maxTreeDepth) throw new FilterSyntaxError(1, `filter nests deeper than ${maxFilterDepth} levels`);
  switch (node.kind) {
    case "and":
    case "or":
      return { kind: node.kind, children: node.children.map((c) => check(c, depth + 1)) };
    case "not":
      return { kind: "not", child: check(node.child, depth + 1) };
    case "compare":
      return checkCompare(node);
  }
}

function checkCompare(node: FilterCompare): CheckedFilterNode {
  const fail: (column: number, reason: string) => never = failAt;
  const { path, value } = node;
  const name = path.join(".");

  // metadata.labels.<key> / labels.<key>: the rest of the path is the key.
  const keyStart = path[0] === "labels" ? 1 : path[0] === "metadata" && path[1] === "labels" ? 2 : -1;
  if (keyStart > 0 && path.length > keyStart) {
    const key = path.slice(keyStart).join(".");
    if (key === "") fail(node.column, "empty label key");
    if (value.kind === "any") {
      if (node.operator !== ":") fail(node.valueColumn, `expected a value after '${node.operator}'`);
      return { kind: "labelKey", key: { kind: "exact", value: key } };
    }
    const op = node.operator === ":" ? "=" : node.operator;
    return { kind: "labelValue", key, op, value: textMatch(node, op) };
  }

  const spec = lookupField(name);
  if (!spec) return fail(node.column, `unknown field ${quote(name)}`);
  const field = spec.field;

  if (value.kind === "any") {
    // Parsing allows a bare * only after ':'.
    if (!spec.optional) fail(node.valueColumn, `${field} is always set; ':*' tests fields that may be unset`);
    return { kind: "present", field: field as FilterOptionalField };
  }

  switch (spec.type) {
    case "labels": {
      if (node.operator !== ":") {
        fail(node.operatorColumn, `${field} takes a key: ${field}:<key> or ${field}.<key> ${node.operator} <value>`);
      }
      const key = textMatch(node, "=");
      if (key.kind === "exact" && key.value === "") fail(node.valueColumn, "empty label key");
      return { kind: "labelKey", key };
    }
    case "capabilities": {
      if (node.operator !== ":") fail(node.operatorColumn, `only ':' applies to ${field} (${field}:MODEL_CAPABILITY_VISION)`);
      return { kind: "capability", value: enumValue(node, field, capabilityNames) };
    }
    case "modalities": {
      if (node.operator !== ":") fail(node.operatorColumn, `only ':' applies to ${field} (${field}:MODALITY_IMAGE)`);
      return { kind: "modality", field: spec.field, value: enumValue(node, field, modalityNames) };
    }
    case "text": {
      const op = node.operator === ":" ? "=" : node.operator;
      return { kind: "text", field: spec.field, op, value: textMatch(node, op) };
    }
    case "number": {
      if (value.kind !== "number") fail(node.valueColumn, `expected a number for ${field}`);
      return { kind: "number", field: spec.field, op: node.operator === ":" ? "=" : node.operator, value: value.value };
    }
    case "timestamp": {
      const ms = value.kind === "string" && value.parts.length === 1 ? parseRfc3339(value.value) : undefined;
      if (ms === undefined) fail(node.valueColumn, `expected an RFC 3339 timestamp for ${field}, such as "2025-01-31T12:00:00Z"`);
      return { kind: "number", field: spec.field, op: node.operator === ":" ? "=" : node.operator, value: ms };
    }
    case "enum": {
      const op = equalityOperator(node, field);
      return { kind: "enum", field: spec.field, op, value: enumValue(node, field, spec.values) };
    }
    case "bool": {
      const op = equalityOperator(node, field);
      if (value.kind !== "bool") fail(node.valueColumn, `expected true or false for ${field}`);
      return { kind: "bool", field: spec.field, op, value: value.value };
    }
  }
}

function equalityOperator(node: FilterCompare, field: string): "=" | "!=" {
  if (node.operator === "=" || node.operator === ":") return "=";
  if (node.operator === "!=") return "!=";
  throw new FilterSyntaxError(node.operatorColumn, `'${node.operator}' does not apply to ${field}; use '=' or '!='`);
}

function enumValue(node: FilterCompare, field: string, allowed: readonly string[]): string {
  const v = node.value;
  const name = v.kind === "text" ? v.value : v.kind === "string" && v.parts.length === 1 ? v.value : undefined;
  if (name === undefined || !allowed.includes(name)) {
    const shown = v.kind === "text" || v.kind === "string" ? quote(v.value) : v.kind === "number" ? v.text : String(v.kind === "bool" && v.value);
    throw new FilterSyntaxError(node.valueColumn, `${shown} is not a value of ${field}; expected ${allowed.join(", ")}`);
  }
  return name;
}

/** The text a literal compares as: strings keep their wildcards; words, numbers and booleans their spelling. */
function textMatch(node: FilterCompare, op: FilterComparator): TextMatch {
  const v = node.value;
  switch (v.kind) {
    case "string":
      if (v.parts.length === 1) return { kind: "exact", value: v.value };
      if (op !== "=" && op !== "!=") {
        throw new FilterSyntaxError(node.valueColumn, `wildcards apply only to '=', '!=' and ':'; escape a literal '*' as \\*`);
      }
      return { kind: "wildcard", parts: v.parts };
    case "text":
      return { kind: "exact", value: v.value };
    case "number":
      return { kind: "exact", value: v.text };
    case "bool":
      return { kind: "exact", value: String(v.value) };
    case "any":
      throw new FilterSyntaxError(node.valueColumn, "expected a value");
  }
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Epoch milliseconds of an RFC 3339 timestamp (fractions below a millisecond kept), or undefined. */
export function parseRfc3339(text: string): number | undefined {
  const m = rfc3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // month of a leap year
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return undefined;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const offsetHours = m[9] ? Number(m[10]) : 0;
  const offsetMinutes = m[9] ? Number(m[11]) : 0;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  d.setUTCHours(hour, minute, second, 0); // a leap second (60) is the next minute's start
  const offset = (m[9] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  const fraction = m[7] ? Number(m[7]) * 1000 : 0;
  return d.getTime() - offset + fraction;
}

// ---------------------------------------------------------------------------
// orderBy (AIP-132)

/**
 * Parses "field [asc|desc], ..." into sort terms. Aliases (name, provider,
 * family, status) resolve to their full paths; a field may appear once. The
 * caller appends the created_at, id tie-breakers.
 */
export function parseOrderBy(text: string): OrderTerm[] | FilterSyntaxError {
  if (text.length > maxOrderByLength) {
    return new FilterSyntaxError(maxOrderByLength + 1, `orderBy is longer than ${maxOrderByLength} characters`);
  }
  const fail = (offset: number, reason: string) => new FilterSyntaxError(columnOf(text, offset), reason);
  const terms: OrderTerm[] = [];
  if (text.trim() === "") return terms;
  const seen = new Set<string>();
  let pos = 0;
  const skipSpace = () => {
    while (pos < text.length && space.test(text[pos]!)) pos++;
  };
  const word = (pattern: RegExp): string => {
    const start = pos;
    while (pos < text.length && pattern.test(text[pos]!)) pos++;
    return text.slice(start, pos);
  };
  for (;;) {
    skipSpace();
    const fieldStart = pos;
    const name = word(/[A-Za-z0-9_.]/);
    if (name === "") return fail(fieldStart, "expected a field name");
    const spec = lookupField(name);
    if (!spec && /^(metadata\.)?labels\./.test(name)) return fail(fieldStart, "cannot sort by metadata.labels");
    if (!spec) return fail(fieldStart, `unknown field ${quote(name)}`);
    if (!sortable.has(spec.field)) return fail(fieldStart, `cannot sort by ${spec.field}`);
    if (seen.has(spec.field)) return fail(fieldStart, `${spec.field} appears twice`);
    seen.add(spec.field);
    skipSpace();
    let descending = false;
    const directionStart = pos;
    const direction = word(/[A-Za-z]/);
    if (direction !== "") {
      const d = direction.toLowerCase();
      if (d !== "asc" && d !== "desc") return fail(directionStart, `expected 'asc', 'desc' or ',' after ${quote(name)}`);
      descending = d === "desc";
      skipSpace();
    }
    terms.push({ field: spec.field as SortField, descending });
    if (pos >= text.length) return terms;
    if (text[pos] !== ",") return fail(pos, direction === "" ? `expected 'asc', 'desc' or ',' after ${quote(name)}` : "expected ','");
    pos += 1;
  }
}

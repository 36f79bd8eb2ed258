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
} from "./model-filter.js";
import { filterFields, sortFields, type FilterField } from "./model-filter.js";

/**
 * Compiles checked ListModels filters and orders to SQL on the `models` table,
 * for every SQL store: each store's dialect (SQLite's in
 * sqlite/filter-sql.ts, PostgreSQL's in postgres/pg-filter-sql.ts) says how
 * its parameters, booleans and JSON columns are written. SQL text is built
 * only from the fixed tables below and the dialect; every value given by a
 * filter goes through the dialect's `param`.
 *
 * Every compiled predicate is two-valued (never NULL), so that NOT and `!=`
 * hold for models where the field is unset: `family != "x"` and
 * `NOT family = "x"` both match a model without a family.
 *
 * Wildcard matches are case-insensitive (the dialect's `like`); exact and
 * ordering comparisons are case-sensitive and bytewise.
 */

/** What differs between the SQL of two stores. */
export interface SqlDialect {
  /** Adds a value to the query's parameters and returns its placeholder. */
  param(value: string | number | boolean): string;
  /** The literals of an always-true and an always-false predicate. */
  true: string;
  false: string;
  /** The parameter value a boolean column is compared with. */
  boolean(value: boolean): string | number | boolean;
  /** A row source of the model's labels with text columns `key` and `value`. */
  labels: string;
  /** A row source of the model's capabilities with a text column `value`. */
  capabilities: string;
  /** A row source of the model's input or output modalities with a text column `value`. */
  modalities(side: "input" | "output"): string;
  /** The case-insensitive pattern match operator (with ESCAPE '\\'). */
  like: string;
}

interface Column {
  sql: string;
  nullable: boolean;
}

type ScalarField = FilterTextField | FilterNumberField | FilterEnumField | FilterBoolField;

/** The column of each scalar filter field (a field added to the table needs one); whether it may be NULL is the table's `optional`. */
const scalarColumns: Readonly<Record<ScalarField, string>> = {
  "metadata.name": "models.name",
  "metadata.externalId": "models.external_id",
  "metadata.bundleKey": "models.bundle_key",
  "metadata.catalogId": "models.catalog_id",
  "metadata.createdAt": "models.created_at",
  "metadata.updatedAt": "models.updated_at",
  "metadata.origin": "models.origin",
  "spec.provider": "models.provider",
  "spec.family": "models.family",
  "spec.description": "models.description",
  "spec.modelUrl": "models.model_url",
  "spec.status": "models.status",
  "spec.inputPricePerMillionTokens": "models.input_price_cents",
  "spec.outputPricePerMillionTokens": "models.output_price_cents",
  "spec.cachedInputPricePerMillionTokens": "models.cached_input_price_cents",
  "spec.maxInputTokens": "models.max_input_tokens",
  "spec.maxOutputTokens": "models.max_output_tokens",
  "spec.hasToken": "models.has_token",
  // Computed columns over the stored proto JSON (each store's migrations define them).
  "spec.lifecycle.stage": "models.lifecycle_stage",
  "spec.pricing.base.inputUsdPerMtok": "models.price_input",
  "spec.pricing.base.outputUsdPerMtok": "models.price_output",
  "spec.pricing.base.cacheReadUsdPerMtok": "models.price_cache_read",
  "spec.pricing.base.cacheWrite5mUsdPerMtok": "models.price_cache_write_5m",
  "spec.pricing.base.cacheWrite1hUsdPerMtok": "models.price_cache_write_1h",
  "spec.pricing.base.reasoningOutputUsdPerMtok": "models.price_reasoning_output",
  "spec.pricing.base.audioInputUsdPerMtok": "models.price_audio_input",
  "spec.pricing.base.audioOutputUsdPerMtok": "models.price_audio_output",
  "spec.pricing.base.imageInputUsdPerMtok": "models.price_image_input",
  "spec.pricing.base.imageOutputUsdPerMtok": "models.price_image_output",
  "spec.pricing.base.webSearchUsdPerK": "models.price_web_search",
};

const modalitySides: Readonly<Record<FilterModalityField, "input" | "output">> = {
  "spec.modalities.input": "input",
  "spec.modalities.output": "output",
};

const presence: ReadonlyMap<FilterOptionalField, string> = new Map<FilterOptionalField, string>([
  ...(Object.entries(scalarColumns) as Array<[ScalarField, string]>)
    .filter(([f]) => filterFields[f].optional)
    .map(([f, sql]) => [f as FilterOptionalField, `${sql} IS NOT NULL`] as const),
]);

const comparators: ReadonlyMap<FilterComparator, string> = new Map([
  ["=", "="],
  ["!=", "!="],
  ["<", "<"],
  ["<=", "<="],
  [">", ">"],
  [">=", ">="],
]);

/** Deeper than any checked filter; guards against stack exhaustion on hand-made trees. */
const maxDepth = 512;

/**
 * The SQL boolean expression of a checked filter, to be ANDed into a WHERE
 * clause over `models`, in the store's dialect.
 */
export function compileFilter(node: CheckedFilterNode, dialect: SqlDialect): string {
  const param = (value: string | number | boolean): string => dialect.param(value);
  const like = dialect.like;

  const compile = (n: CheckedFilterNode, depth: number): string => {
    if (depth > maxDepth) throw new Error("filter nests too deeply");
    switch (n.kind) {
      case "and":
      case "or": {
        if (n.children.length === 0) return n.kind === "and" ? dialect.true : dialect.false;
        const parts = n.children.map((c) => compile(c, depth + 1));
        return parts.length === 1 ? parts[0]! : `(${parts.join(n.kind === "and" ? " AND " : " OR ")})`;
      }
      case "not":
        return `(NOT ${compile(n.child, depth + 1)})`;
      case "text": {
        const c = column(n.field);
        return compare(c.sql, c.nullable, n.op, (expr, op) => textTest(expr, op, n.value, param, like));
      }
      case "number": {
        const c = column(n.field);
        if (!Number.isFinite(n.value as unknown)) throw new Error("invalid number");
        return compare(c.sql, c.nullable, n.op, (expr, op) => `${expr} ${sqlOperator(op)} ${param(n.value)}`);
      }
      case "enum": {
        const c = column(n.field);
        if (typeof (n.value as unknown) !== "string") throw new Error("invalid enum value");
        return compare(c.sql, c.nullable, equality(n.op), (expr) => `${expr} = ${param(n.value)}`);
      }
      case "bool": {
        const c = column(n.field);
        return compare(c.sql, c.nullable, equality(n.op), (expr) => `${expr} = ${param(dialect.boolean(n.value === true))}`);
      }
      case "present": {
        if (n.field === "metadata.labels") return `EXISTS (SELECT 1 FROM ${dialect.labels})`;
        if (n.field === "spec.capabilities") return `EXISTS (SELECT 1 FROM ${dialect.capabilities})`;
        if (Object.hasOwn(modalitySides, n.field)) return `EXISTS (SELECT 1 FROM ${dialect.modalities(modalitySides[n.field as FilterModalityField])})`;
        const sql = presence.get(n.field);
        if (!sql) throw new Error(`no presence test for ${JSON.stringify((n as { field?: unknown }).field)}`);
        return sql;
      }
      case "labelKey":
        return `EXISTS (SELECT 1 FROM ${dialect.labels} WHERE ${textTest("key", "=", n.key, param, like)})`;
      case "labelValue": {
        // A missing label compares like an unset field: only != (negated =) holds.
        if (typeof n.key !== "string") throw new Error("invalid label key");
        const key = param(n.key);
        const positive = n.op === "!=" ? "=" : n.op;
        const test = `EXISTS (SELECT 1 FROM ${dialect.labels} WHERE key = ${key} AND ${textTest("value", positive, n.value, param, like)})`;
        return n.op === "!=" ? `(NOT ${test})` : test;
      }
      case "capability":
        if (typeof n.value !== "string") throw new Error("invalid capability");
        return `EXISTS (SELECT 1 FROM ${dialect.capabilities} WHERE value = ${param(n.value)})`;
      case "modality": {
        const side = Object.hasOwn(modalitySides, n.field) ? modalitySides[n.field] : undefined;
        if (!side || typeof n.value !== "string") throw new Error("invalid modality");
        return `EXISTS (SELECT 1 FROM ${dialect.modalities(side)} WHERE value = ${param(n.value)})`;
      }
      default:
        throw new Error(`unknown filter node ${JSON.stringify((n as { kind?: unknown }).kind)}`);
    }
  };

  return compile(node, 0);
}

function column(field: FilterField): Column {
  const sql = scalarColumns[field as ScalarField] as string | undefined;
  if (!sql) throw new Error(`no column for filter field ${JSON.stringify(field)}`);
  return { sql, nullable: filterFields[field].optional };
}

function sqlOperator(op: FilterComparator): string {
  const sql = comparators.get(op);
  if (!sql) throw new Error(`unknown comparator ${JSON.stringify(op)}`);
  return sql;
}

function equality(op: FilterComparator): "=" | "!=" {
  if (op !== "=" && op !== "!=") throw new Error(`unknown comparator ${JSON.stringify(op)} for an equality field`);
  return op;
}

/**
 * A two-valued comparison of a column: `!=` is the negation of `=`, and a
 * NULL column satisfies nothing else.
 */
function compare(sql: string, nullable: boolean, op: FilterComparator, test: (expr: string, op: FilterComparator) => string): string {
  const positive = test(sql, op === "!=" ? "=" : op);
  const guarded = nullable ? `(${sql} IS NOT NULL AND ${positive})` : positive;
  return op === "!=" ? `(NOT ${guarded})` : guarded;
}

/** `expr op value` for text; `=` with wildcards becomes a case-insensitive LIKE. */
function textTest(expr: string, op: FilterComparator, value: TextMatch, param: (v: string) => string, like: string): string {
  if (value.kind === "exact") {
    if (typeof value.value !== "string") throw new Error("invalid text value");
    return `${expr} ${sqlOperator(op)} ${param(value.value)}`;
  }
  if (value.kind !== "wildcard" || !Array.isArray(value.parts) || value.parts.some((p) => typeof p !== "string")) {
    throw new Error("invalid text match");
  }
  if (op !== "=") throw new Error(`wildcards do not apply to ${JSON.stringify(op)}`);
  return `${expr} ${like} ${param(value.parts.map(likeLiteral).join("%"))} ESCAPE '\\'`;
}

/** Escapes LIKE wildcards so text matches literally (with ESCAPE '\'). */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => "\\" + c);
}

const sortColumns: ReadonlyMap<SortField, Column> = new Map(sortFields.map((f) => [f, column(f)]));

/**
 * ORDER BY terms (without the keyword) and the columns they sort on, in order.
 * Unset values sort last in both directions (NULLS LAST); status sorts by its
 * stored enum name. The caller appends its `created_at, id` tie-breakers.
 */
export function orderToSql(terms: OrderTerm[]): { orderBy: string; columns: string[]; keys: SortKeySql[] } {
  const seen = new Set<string>();
  const keys: SortKeySql[] = [];
  for (const t of terms) {
    const c = sortColumns.get(t.field);
    if (!c) throw new Error(`cannot sort by ${JSON.stringify(t.field)}`);
    if (seen.has(c.sql)) throw new Error(`${t.field} appears twice in the order`);
    seen.add(c.sql);
    keys.push({ column: c.sql.replace(/^models\./, ""), descending: t.descending === true, nullable: c.nullable });
  }
  const orderBy = keys.map((k) => `${k.column} ${k.descending ? "DESC" : "ASC"}${k.nullable ? " NULLS LAST" : ""}`).join(", ");
  return { orderBy, columns: keys.map((k) => k.column), keys };
}

/** One sort key of an order: its column, direction, and whether it can be unset (then it sorts last). */
export interface SortKeySql {
  column: string;
  descending: boolean;
  nullable: boolean;
}

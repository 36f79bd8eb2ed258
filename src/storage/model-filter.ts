/**
 * A checked ListModels filter and order, as the storage layer receives them:
 * every field resolved to its canonical proto JSON path (aliases expanded),
 * every value converted to the field's type (timestamps to epoch ms). Produced
 * by src/domain/search/filter-expression.ts; compiled to SQL by
 * src/storage/sqlite/filter-sql.ts. They live here so that the storage layer
 * needs nothing from the domain layer.
 */

/**
 * The one table of the fields a filter or orderBy may name: each field's type,
 * whether a model may leave it unset (what `field:*` tests, and what sorts
 * last), and whether a list can be ordered by it. The parser, the SQL compiler
 * and every other reader derive their field lists from here.
 */
export const filterFields = {
  "metadata.name": { type: "text", optional: false, sortable: true },
  "metadata.externalId": { type: "text", optional: true, sortable: false },
  "metadata.bundleKey": { type: "text", optional: true, sortable: false },
  "metadata.catalogId": { type: "text", optional: true, sortable: false },
  "metadata.labels": { type: "labels", optional: true, sortable: false },
  "metadata.createdAt": { type: "timestamp", optional: false, sortable: true },
  "metadata.updatedAt": { type: "timestamp", optional: false, sortable: true },
  "metadata.origin": { type: "enum", optional: false, sortable: false },
  "spec.provider": { type: "text", optional: true, sortable: true },
  "spec.family": { type: "text", optional: true, sortable: true },
  "spec.description": { type: "text", optional: true, sortable: false },
  "spec.modelUrl": { type: "text", optional: true, sortable: false },
  "spec.status": { type: "enum", optional: true, sortable: true },
  "spec.inputPricePerMillionTokens": { type: "number", optional: true, sortable: true },
  "spec.outputPricePerMillionTokens": { type: "number", optional: true, sortable: true },
  "spec.cachedInputPricePerMillionTokens": { type: "number", optional: true, sortable: true },
  "spec.maxInputTokens": { type: "number", optional: true, sortable: true },
  "spec.maxOutputTokens": { type: "number", optional: true, sortable: true },
  "spec.capabilities": { type: "capabilities", optional: true, sortable: false },
  "spec.hasToken": { type: "bool", optional: false, sortable: false },
  "spec.lifecycle.stage": { type: "enum", optional: true, sortable: false },
  "spec.modalities.input": { type: "modalities", optional: true, sortable: false },
  "spec.modalities.output": { type: "modalities", optional: true, sortable: false },
  // The base tier's prices in US dollars (compared as numbers).
  "spec.pricing.base.inputUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.outputUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.cacheReadUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.cacheWrite5mUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.cacheWrite1hUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.reasoningOutputUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.audioInputUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.audioOutputUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.imageInputUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.imageOutputUsdPerMtok": { type: "number", optional: true, sortable: true },
  "spec.pricing.base.webSearchUsdPerK": { type: "number", optional: true, sortable: true },
} as const;

export type FilterField = keyof typeof filterFields;
type FieldsWhere<P> = { [F in FilterField]: (typeof filterFields)[F] extends P ? F : never }[FilterField];

/** Text fields: every comparison; `=`, `!=` and `:` also with `*` wildcards. */
export type FilterTextField = FieldsWhere<{ type: "text" }>;

/** Numeric fields (timestamps are epoch milliseconds). */
export type FilterNumberField = FieldsWhere<{ type: "number" | "timestamp" }>;

export type FilterEnumField = FieldsWhere<{ type: "enum" }>;

export type FilterBoolField = FieldsWhere<{ type: "bool" }>;

export type FilterModalityField = FieldsWhere<{ type: "modalities" }>;

/** Fields a model may leave unset: the ones a `field:*` presence test applies to. */
export type FilterOptionalField = FieldsWhere<{ optional: true }>;

export type FilterComparator = "=" | "!=" | "<" | "<=" | ">" | ">=";

/**
 * A text to match: exactly, or (wildcard) as the literal pieces between `*`
 * wildcards, e.g. "*-mini" is ["", "-mini"].
 */
export type TextMatch = { kind: "exact"; value: string } | { kind: "wildcard"; parts: string[] };

export type CheckedFilterNode =
  /** All children hold; no children: always true. */
  | { kind: "and"; children: CheckedFilterNode[] }
  /** Any child holds; no children: always false. */
  | { kind: "or"; children: CheckedFilterNode[] }
  | { kind: "not"; child: CheckedFilterNode }
  /** Wildcards only with `=` and `!=`. An unset field never equals and never orders; `!=` holds for it. */
  | { kind: "text"; field: FilterTextField; op: FilterComparator; value: TextMatch }
  | { kind: "number"; field: FilterNumberField; op: FilterComparator; value: number }
  | { kind: "enum"; field: FilterEnumField; op: "=" | "!="; value: string }
  | { kind: "bool"; field: FilterBoolField; op: "=" | "!="; value: boolean }
  /** The field is set (a label map or capability list: is not empty). */
  | { kind: "present"; field: FilterOptionalField }
  /** The model has a label whose key matches. */
  | { kind: "labelKey"; key: TextMatch }
  /** The model has the label `key` and its value compares so; `!=` also holds when the label is absent. */
  | { kind: "labelValue"; key: string; op: FilterComparator; value: TextMatch }
  /** spec.capabilities contains the capability (a ModelCapability enum name). */
  | { kind: "capability"; value: string }
  /** The modality list contains the modality (a Modality enum name). */
  | { kind: "modality"; field: FilterModalityField; value: string };

/** The fields a list can be ordered by. */
export const sortFields = (Object.keys(filterFields) as FilterField[]).filter((f) => filterFields[f].sortable) as Array<FieldsWhere<{ sortable: true }>>;

export type SortField = FieldsWhere<{ sortable: true }>;

export interface OrderTerm {
  field: SortField;
  descending: boolean;
}

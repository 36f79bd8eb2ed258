/**
 * A checked ListModels filter and order, as the storage layer receives them:
 * every field resolved to its canonical proto JSON path (aliases expanded),
 * every value converted to the field's type (timestamps to epoch ms). Produced
 * by src/domain/search/filter-expression.ts; compiled to SQL by
 * src/storage/sqlite/filter-sql.ts. Types only: they live here so that the
 * storage layer needs nothing from the domain layer.
 */

/** Text fields: every comparison; `=`, `!=` and `:` also with `*` wildcards. */
export type FilterTextField =
  | "metadata.name"
  | "metadata.externalId"
  | "metadata.bundleKey"
  | "spec.provider"
  | "spec.family"
  | "spec.description"
  | "spec.modelUrl";

/** Numeric fields (timestamps are epoch milliseconds). */
export type FilterNumberField =
  | "metadata.createdAt"
  | "metadata.updatedAt"
  | "spec.inputPricePerMillionTokens"
  | "spec.outputPricePerMillionTokens"
  | "spec.cachedInputPricePerMillionTokens"
  | "spec.maxInputTokens"
  | "spec.maxOutputTokens";

export type FilterEnumField = "metadata.origin" | "spec.status";

export type FilterBoolField = "spec.hasToken";

/** Fields a model may leave unset: the ones a `field:*` presence test applies to. */
export type FilterOptionalField =
  | "metadata.externalId"
  | "metadata.bundleKey"
  | "spec.provider"
  | "spec.family"
  | "spec.description"
  | "spec.modelUrl"
  | "spec.status"
  | "spec.inputPricePerMillionTokens"
  | "spec.outputPricePerMillionTokens"
  | "spec.cachedInputPricePerMillionTokens"
  | "spec.maxInputTokens"
  | "spec.maxOutputTokens"
  | "metadata.labels"
  | "spec.capabilities";

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
  | { kind: "capability"; value: string };

/** Fields ListModels can sort by. */
/** The fields a list can be ordered by. */
export const sortFields = [
  "metadata.name",
  "metadata.createdAt",
  "metadata.updatedAt",
  "spec.provider",
  "spec.family",
  "spec.status",
  "spec.inputPricePerMillionTokens",
  "spec.outputPricePerMillionTokens",
  "spec.cachedInputPricePerMillionTokens",
  "spec.maxInputTokens",
  "spec.maxOutputTokens",
] as const;

export type SortField = (typeof sortFields)[number];

export interface OrderTerm {
  field: SortField;
  descending: boolean;
}

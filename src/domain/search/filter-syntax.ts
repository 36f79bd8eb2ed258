import { ListModelsRequestSchema } from "../../../gen/modelservice/v1/model_service_pb.js";
import { fieldRules } from "../../proto/field-rules.js";
import type { FilterComparator } from "../../storage/model-filter.js";

/** From the rulebook (the proto's ListModelsRequest.filter and order_by). */
export const maxFilterLength = fieldRules(ListModelsRequestSchema.field.filter)!.maxLength!;
/** Parentheses and negations, counted together. */
export const maxFilterDepth = 64;
/** Comparisons in one filter. */
export const maxFilterRestrictions = 64;
export const maxOrderByLength = fieldRules(ListModelsRequestSchema.field.orderBy)!.maxLength!;

/** A syntax or meaning error in a filter or orderBy, at a 1-based column (in code points). */
export class FilterSyntaxError extends Error {
  override readonly name = "FilterSyntaxError";
  readonly kind = "error";
  constructor(
    /** 1-based column of the text the error is about (the length + 1 for "at the end"). */
    readonly column: number,
    /** The message without its " at column N" suffix. */
    readonly reason: string,
  ) {
    super(`${reason} at column ${column}`);
  }
}

export type Comparator = FilterComparator | ":";

export type FilterLiteral =
  /** Quoted string; `parts` are the literal pieces between unescaped `*` wildcards (one part: no wildcard). */
  | { kind: "string"; value: string; parts: string[] }
  /** Unquoted word: an enum name or unquoted text (`anthropic`, `gpt-4.1`). */
  | { kind: "text"; value: string }
  | { kind: "number"; value: number; text: string }
  | { kind: "bool"; value: boolean }
  /** The bare `*` of `field:*` (presence test). */
  | { kind: "any" };

export interface FilterCompare {
  kind: "compare";
  /** Field path as written, quotes removed: ["spec", "family"], ["labels", "app.kubernetes.io/name"]. */
  path: string[];
  operator: Comparator;
  value: FilterLiteral;
  /** 1-based columns of the field, the operator and the value. */
  column: number;
  operatorColumn: number;
  valueColumn: number;
}

/** Parsed (unchecked) filter. An empty filter is `{ kind: "and", children: [] }` (matches everything). */
export type FilterNode =
  | { kind: "and"; children: FilterNode[] }
  | { kind: "or"; children: FilterNode[] }
  | { kind: "not"; child: FilterNode; column: number }
  | FilterCompare;

/** 1-based column, in code points, of UTF-16 offset `offset`. */
export function columnOf(text: string, offset: number): number {
  return Array.from(text.slice(0, offset)).length + 1;
}

export function failAt(column: number, reason: string): never {
  throw new FilterSyntaxError(column, reason);
}

/** Quotes user text for a message, shortened. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? text.slice(0, 61) + "..." : text);
}

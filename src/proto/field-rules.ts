import { getOption, hasOption, type DescField } from "@bufbuild/protobuf";
import { page_size, rules, type FieldRules, type PageSize } from "../../gen/modelservice/v1/options_pb.js";

/**
 * The rulebook: a field's limits and format, read from its (modelservice.v1.rules)
 * and (modelservice.v1.page_size) options. The server's validation, the OpenAPI
 * document, the CLI help and the console read them here, so none of them
 * restates a limit. This module imports only generated code, so clients may use it.
 */

const rulesByField = new WeakMap<DescField, FieldRules | null>();

/** The field's rules, decoded once per field (protobuf-es decodes options on every getOption). */
export function fieldRules(field: DescField): FieldRules | undefined {
  let found = rulesByField.get(field);
  if (found === undefined) {
    found = hasOption(field, rules) ? getOption(field, rules) : null;
    rulesByField.set(field, found);
  }
  return found ?? undefined;
}

/** The page size bounds of a list's limit field; throws when the field has none (a proto mistake). */
export function pageSizeOf(field: DescField): PageSize {
  if (!hasOption(field, page_size)) throw new Error(`${field.parent.typeName}.${field.name} has no (modelservice.v1.page_size) option`);
  return getOption(field, page_size);
}

const patterns = new Map<string, RegExp>();

function regExp(pattern: string): RegExp {
  let found = patterns.get(pattern);
  if (!found) {
    found = new RegExp(pattern, "u");
    patterns.set(pattern, found);
  }
  return found;
}

/** True when the text matches a pattern of the rulebook. */
export function matchesPattern(pattern: string, text: string): boolean {
  return regExp(pattern).test(text);
}

/** What is wrong with one string or number against the rules, or undefined; the first rule broken wins. */
export function scalarProblem(r: FieldRules, value: unknown): string | undefined {
  if (typeof value === "string") {
    if (r.maxLength !== undefined && value.length > r.maxLength) return `is longer than ${r.maxLength} characters`;
    if (r.pattern !== undefined && !matchesPattern(r.pattern, value)) return `must match ${r.pattern}`;
  }
  if (typeof value === "number" || typeof value === "bigint") {
    if (r.minimum !== undefined && BigInt(value) < r.minimum) return `must be at least ${r.minimum}`;
    if (r.maximum !== undefined && BigInt(value) > r.maximum) return `must be at most ${r.maximum}`;
  }
  return undefined;
}

/** What is wrong with the number of entries of a repeated field or map, or undefined. */
export function countProblem(r: FieldRules, count: number): string | undefined {
  if (r.minItems !== undefined && count < r.minItems) return `must list at least ${r.minItems} ${r.minItems === 1 ? "item" : "items"}`;
  if (r.maxItems !== undefined && count > r.maxItems) return `must list at most ${r.maxItems} items, not ${count}`;
  return undefined;
}

/** The rules in words, for help texts: "At most 200 characters." */
export function rulesSummary(field: DescField): string | undefined {
  const r = fieldRules(field);
  const parts: string[] = [];
  if (r?.maxLength !== undefined) parts.push(`at most ${r.maxLength} characters`);
  if (r?.pattern !== undefined) parts.push(`matching ${r.pattern}`);
  if (r?.minimum !== undefined) parts.push(`at least ${r.minimum}`);
  if (r?.maximum !== undefined) parts.push(`at most ${r.maximum}`);
  if (r?.minItems !== undefined) parts.push(`at least ${r.minItems} ${r.minItems === 1 ? "item" : "items"}`);
  if (r?.maxItems !== undefined) parts.push(`at most ${r.maxItems} ${field.fieldKind === "map" ? "entries" : "items"}`);
  if (r?.keyPattern !== undefined) parts.push(`keys matching ${r.keyPattern}`);
  if (r?.valuePattern !== undefined) parts.push(`values matching ${r.valuePattern}`);
  if (hasOption(field, page_size)) {
    const p = pageSizeOf(field);
    parts.push(`default ${p.defaultSize}, at most ${p.maxSize} (larger is clamped)`);
  }
  if (parts.length === 0) return undefined;
  const text = parts.join(", ");
  return text[0]!.toUpperCase() + text.slice(1) + ".";
}

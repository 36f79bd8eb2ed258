import { isMessage, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { reflect, type ReflectMap, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { countProblem, fieldRules, matchesPattern, scalarProblem } from "../../proto/field-rules.js";
import type { FieldViolation } from "./field-violations.js";

function joinPath(parent: string, field: DescField): string {
  return parent === "" ? field.jsonName : `${parent}.${field.jsonName}`;
}

const checkedFieldsByMessage = new WeakMap<DescMessage, readonly DescField[]>();

/** The fields worth visiting: those with rules, and singular messages (which may hold some). */
function checkedFields(message: DescMessage): readonly DescField[] {
  let found = checkedFieldsByMessage.get(message);
  if (!found) {
    found = message.fields.filter((f) => fieldRules(f) !== undefined || f.fieldKind === "message");
    checkedFieldsByMessage.set(message, found);
  }
  return found;
}

function mapViolations(field: DescField, map: ReflectMap, path: string, out: FieldViolation[]): void {
  const r = fieldRules(field)!;
  for (const [key, value] of map) {
    const k = String(key);
    if (r.keyPattern !== undefined && !matchesPattern(r.keyPattern, k)) {
      out.push({ field: path, description: `"${k.slice(0, 64)}" is not a valid key: keys must match ${r.keyPattern}` });
    } else if (r.valuePattern !== undefined && typeof value === "string" && !matchesPattern(r.valuePattern, value)) {
      out.push({ field: `${path}.${k}`, description: `must match ${r.valuePattern}` });
    }
  }
}

/** Singular messages are walked; repeated messages are requests of their own (batch items), checked one by one. */
function walk(message: ReflectMessage, parent: string, out: FieldViolation[]): void {
  for (const field of checkedFields(message.desc)) {
    if (!message.isSet(field)) continue;
    const path = joinPath(parent, field);
    const value = message.get(field);
    if (field.fieldKind === "message") {
      walk(value as ReflectMessage, path, out);
      continue;
    }
    const r = fieldRules(field)!;
    if (field.fieldKind === "list" || field.fieldKind === "map") {
      const problem = countProblem(r, (value as { size: number }).size);
      if (problem) out.push({ field: path, description: problem });
      if (field.fieldKind === "map") mapViolations(field, value as ReflectMap, path, out);
      continue;
    }
    const problem = scalarProblem(r, value);
    if (problem) out.push({ field: path, description: problem });
  }
}

/**
 * The rulebook's rules a request breaks: lengths, patterns, ranges and entry
 * counts from the (modelservice.v1.rules) options of its set fields, at most
 * one violation per field. An unset repeated field counts as empty only for
 * min_items, which belongs to fields a request must fill.
 */
export function fieldRuleViolations(schema: DescMessage, request: Message): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (!isMessage(request, schema)) return out;
  const message = reflect(schema, request);
  walk(message, "", out);
  for (const field of checkedFields(schema)) {
    if ((field.fieldKind === "list" || field.fieldKind === "map") && !message.isSet(field)) {
      const problem = countProblem(fieldRules(field)!, 0);
      if (problem) out.push({ field: field.jsonName, description: problem });
    }
  }
  return out;
}

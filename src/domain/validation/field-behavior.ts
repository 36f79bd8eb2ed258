import {
  getOption,
  hasOption,
  isMessage,
  type DescEnum,
  type DescField,
  type DescMessage,
  type Message,
} from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { FieldBehavior, field_behavior } from "../../../gen/google/api/field_behavior_pb.js";
import type { FieldViolation } from "./field-violations.js";

const behaviorsByField = new WeakMap<DescField, readonly FieldBehavior[]>();

/** The field's google.api.field_behavior, read once per field: protobuf-es decodes options on every getOption. */
export function behaviors(field: DescField): readonly FieldBehavior[] {
  let found = behaviorsByField.get(field);
  if (found === undefined) {
    found = hasOption(field, field_behavior) ? getOption(field, field_behavior) : [];
    behaviorsByField.set(field, found);
  }
  return found;
}

function joinPath(parent: string, field: DescField): string {
  return parent === "" ? field.jsonName : `${parent}.${field.jsonName}`;
}

function enumOf(field: DescField): DescEnum | undefined {
  if (field.fieldKind === "enum") return field.enum;
  if (field.fieldKind === "list" && field.listKind === "enum") return field.enum;
  return undefined;
}

function checkEnum(field: DescField, value: unknown, path: string, out: FieldViolation[]): void {
  const desc = enumOf(field);
  if (!desc) return;
  const numbers = field.fieldKind === "list" ? [...(value as Iterable<number>)] : [value as number];
  for (const n of numbers) {
    if (!desc.values.some((v) => v.number === n)) {
      out.push({ field: path, description: `unknown ${desc.typeName} value ${n}` });
    }
  }
}

function hasUpdateMask(message: ReflectMessage): boolean {
  return message.fields.some((f) => f.fieldKind === "message" && f.message.typeName === "google.protobuf.FieldMask");
}

/** `partial`: inside the resource of an update, where only the masked fields are written (AIP-134). */
function walk(message: ReflectMessage, parent: string, out: FieldViolation[], partial: boolean): void {
  const nestedPartial = partial || hasUpdateMask(message);
  for (const field of message.fields) {
    const path = joinPath(parent, field);
    const fieldBehaviors = behaviors(field);
    if (fieldBehaviors.includes(FieldBehavior.OUTPUT_ONLY)) continue;
    const set = message.isSet(field);
    if (!set) {
      if (!partial && fieldBehaviors.includes(FieldBehavior.REQUIRED)) out.push({ field: path, description: "is required" });
      continue;
    }
    const value = message.get(field);
    checkEnum(field, value, path, out);
    if (field.fieldKind === "scalar" && typeof value === "string" && value.includes("\u0000")) {
      out.push({ field: path, description: "must not contain NUL characters" });
    }
    if (field.fieldKind === "message") walk(value as ReflectMessage, path, out, nestedPartial);
  }
}

/**
 * The rules every request obeys by its descriptor alone: REQUIRED fields are
 * set (an enum at its zero value counts as unset), enum values are known,
 * strings carry no NUL. OUTPUT_ONLY fields are ignored, as AIP-203 says, and
 * the resource of an update (a request with a FieldMask) need not carry its
 * REQUIRED fields.
 */
export function fieldBehaviorViolations(schema: DescMessage, message: Message): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (isMessage(message, schema)) walk(reflect(schema, message), "", out, false);
  return out;
}

import { getOption, ScalarType, type DescField, type DescMessage, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { InvalidArgumentError, Option } from "commander";
import { FieldBehavior, field_behavior } from "../../gen/google/api/field_behavior_pb.js";
import { comments as modelComments } from "../../gen/modelservice/v1/model_comments.js";
import { comments as serviceComments } from "../../gen/modelservice/v1/model_service_comments.js";
import { rulesSummary } from "../proto/field-rules.js";
import { textToJson } from "../proto/scalar-text.js";
import { secretInput, type SecretInput } from "./secret-inputs.js";

export const comments: Readonly<Record<string, string>> = { ...modelComments, ...serviceComments };

/** Names the root command uses for itself; a derived flag never takes one. */
export const globalFlags = ["base-url", "api-key", "api-key-file", "api-key-stdin", "protocol", "output", "timeout", "connect-timeout", "debug", "help", "all", "file"];

const wkt = new Set(["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Empty", "google.protobuf.Struct", "google.protobuf.Any"]);

export function kebab(name: string): string {
  return name.replace(/_/g, "-");
}

/** The field's comment, then its limits from the rulebook. */
function help(parent: DescMessage, field: DescField): string {
  const comment = (comments[`${parent.typeName}.${field.name}`] ?? field.name).replace(/\s*\n\s*/g, " ");
  const limits = rulesSummary(field);
  return limits ? `${comment} ${limits}` : comment;
}

/** The unit of a price field: cents when an exact `…_usd` sibling exists, dollars for that sibling. */
function priceUnit(parent: DescMessage, field: DescField): "cents" | "dollars" | undefined {
  if (field.name.endsWith("_usd") && parent.field[field.localName.replace(/Usd$/, "")]) return "dollars";
  if (parent.fields.some((f) => f.name === `${field.name}_usd`)) return "cents";
  return undefined;
}

export function behaviors(field: DescField): FieldBehavior[] {
  return getOption(field, field_behavior);
}

/** How one flag fills the request. */
export type Flag =
  | { kind: "value"; option: Option; path: DescField[]; field: DescField; secret?: SecretInput }
  | { kind: "json" | "jsonFile"; option: Option; field: DescField }
  | { kind: "mask"; option: Option; field: DescField }
  | { kind: "httpBody"; option: Option; field: DescField };

function enumValue(field: DescField & { fieldKind: "enum" } | DescField & { fieldKind: "list"; listKind: "enum" }, text: string): string {
  const values = field.enum.values.filter((v) => v.number !== 0);
  const exact = values.find((v) => v.name === text);
  if (exact) return exact.name;
  const short = values.find((v) => v.localName.toLowerCase() === text.toLowerCase().replace(/-/g, "_") || v.name.toLowerCase() === text.toLowerCase());
  if (short) return short.name;
  throw new InvalidArgumentError(`Allowed choices are ${values.map((v) => v.name).join(", ")}.`);
}

/** Converts one flag value to its proto JSON form, as REST converts a query parameter; enums also by short name, bytes as text. */
function scalarJson(field: DescField, text: string): JsonValue {
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) return enumValue(field as never, text);
  if (field.fieldKind === "scalar" || field.fieldKind === "list") {
    if (field.scalar === ScalarType.BYTES) return Buffer.from(text).toString("base64");
  }
  const converted = textToJson(field, text);
  if ("problem" in converted) throw new InvalidArgumentError(`The value ${converted.problem}.`);
  return converted.value;
}

/** Parser for a value flag; repeated fields and maps take several values, comma-separated or repeated. */
function parserFor(field: DescField): (text: string, previous: unknown) => unknown {
  if (field.fieldKind === "list") {
    return (text, previous) => [...((previous as JsonValue[] | undefined) ?? []), ...text.split(",").filter((s) => s !== "").map((s) => scalarJson(field, s.trim()))];
  }
  if (field.fieldKind === "map") {
    return (text, previous) => {
      const out = { ...((previous as Record<string, string> | undefined) ?? {}) };
      for (const pair of text.split(",").filter((s) => s !== "")) {
        const at = pair.indexOf("=");
        if (at <= 0) throw new InvalidArgumentError(`Expected key=value pairs, got "${pair}".`);
        out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
      }
      return out;
    };
  }
  return (text) => scalarJson(field, text);
}

function valueOption(flag: string, parent: DescMessage, field: DescField, required: boolean): Option[] {
  const unit = priceUnit(parent, field);
  const description =
    help(parent, field) +
    (unit === "cents" ? ` Whole cents; --${flag}-usd takes exact dollars.` : "") +
    (required ? " (required)" : "");
  if (field.fieldKind === "scalar" && field.scalar === 8 /* bool */) {
    const options = [new Option(`--${flag}`, description)];
    if (field.presence !== 2 /* IMPLICIT */) options.push(new Option(`--no-${flag}`, `Sets ${field.name} to false.`));
    return options;
  }
  const placeholder = field.fieldKind === "map" ? "<key=value,...>" : field.fieldKind === "list" ? "<values,...>" : unit ? `<${unit}>` : "<value>";
  const option = new Option(`--${flag} ${placeholder}`, description);
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
    option.choices((field.enum as { values: Array<{ number: number; name: string }> }).values.filter((v) => v.number !== 0).map((v) => v.name));
  }
  option.argParser(parserFor(field) as (value: string, previous: unknown) => unknown);
  // An id may come as the command's argument instead (buildRequest checks it is there).
  if (required && field.name !== "id") option.makeOptionMandatory();
  return [option];
}

/** A flag for each field of the path; a secret (debug_redact) also gets its file, stdin and environment sources. */
function valueFlags(flag: string, parent: DescMessage, path: DescField[], required: boolean, group?: string): Flag[] {
  const field = path[path.length - 1]!;
  return valueOption(flag, parent, field, required).map((option) => {
    if (group) option.helpGroup(group);
    if (!field.proto.options?.debugRedact || option.negate) return { kind: "value", option, path, field };
    const env = `MODELSERVICE_${path.slice(-2).map((f) => f.name).join("_").toUpperCase()}`;
    return { kind: "value", option, path, field, secret: secretInput(option, env) };
  });
}

function isLeaf(field: DescField): boolean {
  if (field.fieldKind === "scalar" || field.fieldKind === "enum") return true;
  if (field.fieldKind === "list") return field.listKind !== "message";
  if (field.fieldKind === "map") return field.mapKind === "scalar" && field.scalar === 9 /* string */;
  return false;
}

/** The settable leaves of a message (output-only fields left out), with their paths. */
function leaves(message: DescMessage, path: DescField[], depth: number): Array<{ path: DescField[]; parent: DescMessage; field: DescField }> {
  const out: Array<{ path: DescField[]; parent: DescMessage; field: DescField }> = [];
  for (const field of message.fields) {
    if (behaviors(field).includes(FieldBehavior.OUTPUT_ONLY)) continue;
    if (isLeaf(field)) out.push({ path: [...path, field], parent: message, field });
    else if (field.fieldKind === "message" && !wkt.has(field.message.typeName) && depth < 3) {
      out.push(...leaves(field.message, [...path, field], depth + 1));
    }
  }
  return out;
}

/** The flags of a method's request message, derived from its fields. */
export function requestFlags(method: DescMethod): Flag[] {
  const input = method.input;
  const flags: Flag[] = [];
  const taken = new Set(globalFlags);
  const take = (name: string) => {
    taken.add(name);
    return name;
  };
  for (const field of input.fields) taken.add(kebab(field.name));
  const expandable: DescField[] = [];
  for (const field of input.fields) {
    const required = behaviors(field).includes(FieldBehavior.REQUIRED);
    if (isLeaf(field)) {
      flags.push(...valueFlags(kebab(field.name), input, [field], required));
      continue;
    }
    if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.FieldMask") {
      flags.push({ kind: "mask", field, option: new Option(`--${kebab(field.name)} <paths>`, `${help(input, field)} Comma-separated field paths.`) });
      continue;
    }
    if (field.fieldKind === "message" && field.message.typeName === "google.api.HttpBody") {
      const option = new Option(`--${take("file")} <path|->`, `${help(input, field)} A file, or - for standard input.`);
      if (required) option.makeOptionMandatory();
      flags.push({ kind: "httpBody", field, option });
      continue;
    }
    const what = field.fieldKind === "list" ? `a JSON array of ${field.message?.typeName}` : `JSON of ${field.message?.typeName}`;
    const req = required ? ` (required: this, --${kebab(field.name)}-file${field.fieldKind === "message" ? " or the field flags" : ""})` : "";
    flags.push({ kind: "json", field, option: new Option(`--${take(`${kebab(field.name)}-json`)} <json>`, `${help(input, field)} As ${what}.${req}`) });
    flags.push({ kind: "jsonFile", field, option: new Option(`--${take(`${kebab(field.name)}-file`)} <path|->`, `${help(input, field)} As a file of ${what} (- for standard input).${req}`) });
    if (field.fieldKind === "message") expandable.push(field);
  }
  for (const root of expandable) {
    for (const leaf of leaves(root.message!, [root], 1)) {
      let name = kebab(leaf.field.name);
      for (let i = leaf.path.length - 2; taken.has(name) && i >= 0; i--) name = `${kebab(leaf.path[i]!.name)}-${name}`;
      if (taken.has(name)) continue;
      take(name);
      if (leaf.field.fieldKind === "scalar" && leaf.field.scalar === 8) take(`no-${name}`);
      if (leaf.field.proto.options?.debugRedact) {
        take(`${name}-file`);
        take(`${name}-stdin`);
      }
      flags.push(...valueFlags(name, leaf.parent, leaf.path, false, `${root.name} fields (over --${kebab(root.name)}-json / --${kebab(root.name)}-file):`));
    }
  }
  return flags;
}

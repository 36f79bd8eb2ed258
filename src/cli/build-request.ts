import { fromJson, type DescField, type DescMethod, type JsonValue, type Message } from "@bufbuild/protobuf";
import type { Command, Option } from "commander";
import { FieldBehavior } from "../../gen/google/api/field_behavior_pb.js";
import { UsageError } from "./errors.js";
import { behaviors, kebab, type Flag } from "./request-flags.js";
import { readInput, secretValue } from "./secret-inputs.js";
import { registry } from "./type-registry.js";

function parseJson(text: string, flag: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new UsageError(`invalid JSON in ${flag}: ${(e as Error).message}`);
  }
}

export type JsonObject = { [k: string]: JsonValue };

function setPath(target: JsonObject, path: DescField[], value: JsonValue): void {
  let at = target;
  for (const field of path.slice(0, -1)) {
    const next = at[field.jsonName];
    if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) at[field.jsonName] = {};
    at = at[field.jsonName] as JsonObject;
  }
  at[path[path.length - 1]!.jsonName] = value;
}

function snakeToCamel(path: string): string {
  return path.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The request a command line describes; --x-json / --x-file first, single field flags over them. */
export function buildRequest(method: DescMethod, flags: Flag[], cmd: Command): Message {
  const json: JsonObject = {};
  const given = (option: Option) => cmd.getOptionValueSource(option.attributeName()) !== undefined;
  const value = (option: Option) => cmd.getOptionValue(option.attributeName()) as unknown;
  const explicit = new Set<DescField>();
  for (const flag of flags) {
    if (!given(flag.option)) continue;
    const name = `--${flag.option.long!.slice(2)}`;
    switch (flag.kind) {
      case "json":
      case "jsonFile": {
        if (explicit.has(flag.field)) throw new UsageError(`give --${kebab(flag.field.name)}-json or --${kebab(flag.field.name)}-file, not both`);
        explicit.add(flag.field);
        const text = flag.kind === "json" ? (value(flag.option) as string) : readInput(value(flag.option) as string, name).toString("utf8");
        json[flag.field.jsonName] = parseJson(text, name);
        break;
      }
      case "mask": {
        const paths = (value(flag.option) as string).split(",").map((p) => p.trim()).filter((p) => p !== "");
        json[flag.field.jsonName] = paths.map(snakeToCamel).join(",");
        break;
      }
      case "httpBody": {
        const data = readInput(value(flag.option) as string, "--file");
        json[flag.field.jsonName] = { contentType: "text/csv", data: data.toString("base64") };
        break;
      }
      case "value":
        break;
    }
  }
  for (const flag of flags) {
    if (flag.kind !== "value") continue;
    if (flag.secret) {
      const secret = secretValue(cmd, flag.secret);
      if (secret !== undefined) setPath(json, flag.path, secret);
    } else if (given(flag.option)) setPath(json, flag.path, value(flag.option) as JsonValue);
  }
  const id = method.input.field.id;
  if (id && behaviors(id).includes(FieldBehavior.REQUIRED) && json[id.jsonName] === undefined) {
    throw new UsageError(`missing the id: give it as the argument (${cmd.parent?.name()} ${cmd.name()} <id>) or as --id <id>`);
  }
  for (const field of method.input.fields) {
    if (field.fieldKind === "message" && behaviors(field).includes(FieldBehavior.REQUIRED) && json[field.jsonName] === undefined) {
      throw new UsageError(`required option '--${kebab(field.name)}-json <json>' (or --${kebab(field.name)}-file, or its field flags) not specified`);
    }
  }
  try {
    return fromJson(method.input, json, { registry });
  } catch (e) {
    throw new UsageError(`invalid request: ${(e as Error).message}`);
  }
}

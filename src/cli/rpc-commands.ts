import { createRegistry, fromJson, getOption, ScalarType, type DescField, type DescMessage, type DescMethod, type JsonValue, type Message } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Transport } from "@connectrpc/connect";
import { Command, InvalidArgumentError, Option } from "commander";
import { FieldBehavior, field_behavior } from "../../gen/google/api/field_behavior_pb.js";
import { comments as modelComments } from "../../gen/modelservice/v1/model_comments.js";
import { comments as serviceComments } from "../../gen/modelservice/v1/model_service_comments.js";
import { file_modelservice_v1_model_service, ListModelsRequestSchema, ModelService, type ImportModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";
import { errorDetailTypes } from "../proto/error-detail-types.js";
import { explainDelete, reportImport } from "./call-outcomes.js";
import { rulesSummary } from "../proto/field-rules.js";
import { textToJson } from "../proto/scalar-text.js";
import { rpcCommands, type RpcCommand } from "./command-table.js";
import { UsageError } from "./errors.js";
import { withFlagHints, type FieldFlag } from "./flag-hints.js";
import { format, type OutputFormat } from "./output.js";
import { progress, spinner } from "./progress.js";
import { readInput, secretInput, secretValue, type SecretInput } from "./secret-inputs.js";
import { runWatch, sinceOption } from "./watch-command.js";

const comments: Readonly<Record<string, string>> = { ...modelComments, ...serviceComments };

/** Every type the responses can carry, google.rpc error details included (for Any in BatchResult). */
export const registry = createRegistry(file_modelservice_v1_model_service, errorDetailTypes);

/** Names the root command uses for itself; a derived flag never takes one. */
export const globalFlags = ["base-url", "api-key", "api-key-file", "api-key-stdin", "protocol", "output", "timeout", "connect-timeout", "debug", "help", "all", "file"];

const wkt = new Set(["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Empty", "google.protobuf.Struct", "google.protobuf.Any"]);

function kebab(name: string): string {
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

function behaviors(field: DescField): FieldBehavior[] {
  return getOption(field, field_behavior);
}

/** How one flag fills the request. */
type Flag =
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

function parseJson(text: string, flag: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new UsageError(`invalid JSON in ${flag}: ${(e as Error).message}`);
  }
}

type JsonObject = { [k: string]: JsonValue };

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

export interface CallContext {
  transport: Transport;
  headers: Record<string, string>;
  output: OutputFormat;
  all: boolean;
}

type UnaryFn = (req: Message, options: CallOptions) => Promise<Message>;
type StreamFn = (req: Message, options: CallOptions) => AsyncIterable<Message & { data: Uint8Array }>;

/** True for list methods with a cursor in and a pagination out: `--all` follows every page. */
function isPaged(method: DescMethod): boolean {
  return method.input.field.cursor !== undefined && method.output.field.pagination !== undefined && method.output.field.items !== undefined;
}

/** A watch: a stream of messages that each carry a resume token (WatchModels). */
function isWatch(method: DescMethod): boolean {
  return method.input.field.resumeToken !== undefined && method.output.field.resumeToken !== undefined;
}

/** Counts CSV records in a chunk, honouring quotes. */
function csvRecords(text: string, state: { quoted: boolean }): number {
  let n = 0;
  for (const ch of text) {
    if (ch === '"') state.quoted = !state.quoted;
    else if (ch === "\n" && !state.quoted) n++;
  }
  return n;
}

async function write(text: string | Uint8Array): Promise<void> {
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve) => process.stdout.once("drain", resolve));
}

/** The response on stdout; paging and notes on stderr, so that stdout pipes cleanly. */
async function print(ctx: CallContext, schema: DescMessage, message: Message): Promise<void> {
  const printed = format(ctx.output, schema, message, registry, process.stdout.isTTY ? process.stdout.columns : undefined);
  await write(printed.stdout);
  process.stderr.write(printed.stderr);
}

async function runRpc(rpc: RpcCommand, request: Message, ctx: CallContext, fieldFlags: FieldFlag[]): Promise<void> {
  const client = createClient(ModelService, ctx.transport) as unknown as Record<string, UnaryFn | StreamFn>;
  const options: CallOptions = { headers: ctx.headers };
  const { method } = rpc;
  if (method.methodKind === "server_streaming" && isWatch(method)) {
    return runWatch(client[method.localName] as StreamFn, request, options, ctx.output, registry, write);
  }
  if (method.methodKind === "server_streaming") {
    // ExportModels: the CSV goes to stdout as it arrives; a TTY shows rows against the list total.
    const bar = progress("exporting", "rows");
    if (process.stderr.isTTY) {
      const listFilters = fromJson(ListModelsRequestSchema, { ...(toPlain(request) as JsonObject), limit: 1 }, { ignoreUnknownFields: true });
      const first = (await (client.listModels as UnaryFn)(listFilters, options)) as unknown as { pagination?: { total?: number } };
      bar.setTotal(first.pagination?.total ?? 0);
    }
    const state = { quoted: false };
    let header = true;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of (client[method.localName] as StreamFn)(request, options)) {
        let rows = csvRecords(decoder.decode(chunk.data, { stream: true }), state);
        if (header && rows > 0) {
          rows--;
          header = false;
        }
        bar.increment(rows);
        await write(chunk.data);
      }
    } finally {
      bar.stop();
    }
    return;
  }
  const call = client[method.localName] as UnaryFn;
  if (ctx.all && isPaged(method)) {
    const bar = progress("listing", method.output.field.items!.name);
    const pages: Message[] = [];
    let req = request as Message & { cursor: string };
    try {
      for (;;) {
        const page = (await call(req, options)) as Message & { items: Message[]; pagination?: { nextCursor: string; total?: number } };
        if (pages.length === 0) bar.setTotal(page.pagination?.total ?? page.items.length);
        bar.increment(page.items.length);
        pages.push(page);
        const next = page.pagination?.nextCursor ?? "";
        if (next === "") break;
        req = { ...req, cursor: next };
      }
    } finally {
      bar.stop();
    }
    const first = pages[0] as Message & { items: Message[]; pagination?: { nextCursor: string } };
    const merged = { ...first, items: pages.flatMap((p) => (p as unknown as { items: Message[] }).items) };
    if (first.pagination) merged.pagination = { ...first.pagination, nextCursor: "" };
    await print(ctx, method.output, merged);
    return;
  }
  const importing = method.input.field.csv !== undefined;
  let wait: { stop(): void } | undefined;
  if (importing) {
    // ImportModels is one call that reports nothing until its answer: a spinner with the row count.
    const text = Buffer.from((request as unknown as { csv?: { data: Uint8Array } }).csv?.data ?? []).toString("utf8");
    const rows = Math.max(0, csvRecords(text.endsWith("\n") ? text : text + "\n", { quoted: false }) - 1);
    wait = spinner(`importing ${rows} rows, waiting for the server`);
  }
  let response: Message;
  try {
    response = await call(request, options);
  } catch (e) {
    throw withFlagHints(await explainDelete(rpc, request, ctx, e), fieldFlags);
  } finally {
    wait?.stop();
  }
  await print(ctx, method.output, response);
  if (importing) reportImport(response as ImportModelsResponse);
}

function toPlain(message: Message): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(message)) if (k !== "$typeName" && k !== "$unknown") out[k] = v;
  return out;
}

/** `<group>` commands, each with one `<verb>` per RPC. */
export function addRpcCommands(program: Command, context: (cmd: Command) => CallContext, run: (cmd: Command, work: () => Promise<void>) => Promise<void>): void {
  const groups = new Map<string, Command>();
  const groupHelp: Record<string, string> = {
    models: "The models of a workspace.",
    bundles: "Configuration bundles: sets of models applied as a whole.",
    drafts: "Drafts of models, edited before they are published.",
    "system-models": "The platform's system models and catalog (models:admin).",
  };
  for (const rpc of rpcCommands()) {
    let group = groups.get(rpc.group);
    if (!group) {
      group = program.command(rpc.group).description(groupHelp[rpc.group] ?? rpc.group);
      groups.set(rpc.group, group);
    }
    const flags = requestFlags(rpc.method);
    const description = (comments[`${ModelService.typeName}.${rpc.method.name}`] ?? rpc.method.name).replace(/\s*\n\s*/g, " ");
    const cmd = group.command(rpc.verb).description(`${description}\n(RPC ${ModelService.typeName}/${rpc.method.name})`);
    if (rpc.alias) cmd.alias(rpc.alias);
    for (const flag of flags) {
      cmd.addOption(flag.option);
      if (flag.kind === "value" && flag.secret) cmd.addOption(flag.secret.file).addOption(flag.secret.stdin);
    }
    if (isPaged(rpc.method)) cmd.addOption(new Option("--all", "Follow every page and print all items as one response."));
    if (isWatch(rpc.method)) cmd.addOption(sinceOption);
    const takesId = rpc.method.input.field.id?.fieldKind === "scalar";
    if (takesId) cmd.argument("[id]", "the id, as --id takes it");
    const fieldFlags = flags.flatMap((f) => (f.kind === "value" && f.option.long && !f.option.negate ? [{ long: f.option.long, path: f.path }] : []));
    cmd.action(async (...args: unknown[]) => {
      const self = args[args.length - 1] as Command;
      await run(self, async () => {
        const positional = takesId ? (self.processedArgs[0] as string | undefined) : undefined;
        if (positional !== undefined) {
          const flagged = self.getOptionValue("id") as string | undefined;
          if (flagged !== undefined && flagged !== positional) throw new UsageError(`two different ids: "${positional}" and --id "${flagged}"`);
          self.setOptionValueWithSource("id", positional, "cli");
        }
        const request = buildRequest(rpc.method, flags, self);
        const since = self.getOptionValue(sinceOption.attributeName()) as string | undefined;
        if (since !== undefined) (request as Message & { resumeToken: string }).resumeToken = since;
        const ctx = context(self);
        await runRpc(rpc, request, ctx, fieldFlags);
      });
    });
  }
}

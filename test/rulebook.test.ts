import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { hasOption, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import { file_modelservice_v1_model } from "../gen/modelservice/v1/model_pb.js";
import { file_modelservice_v1_model_service, ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { page_size, rules, type FieldRules } from "../gen/modelservice/v1/options_pb.js";
import { commandName } from "../src/cli/command-table.js";
import { fieldRules, pageSizeOf } from "../src/proto/field-rules.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * The rulebook: every limit and format written as a (modelservice.v1.rules) or
 * (modelservice.v1.page_size) option in the proto is what validation enforces
 * over the wire, what the OpenAPI document states and what the CLI help says.
 * The expected values are read from the descriptors, so changing a limit in
 * the proto alone keeps this test green, and a reader that restates it fails.
 */

const root = resolve(import.meta.dirname, "..");
const workspace = "ws_rulebook";

type Json = Record<string, any>;

let service: TestService;
let client: ModelClient;
let doc: Json;

beforeAll(async () => {
  service = await startTestService();
  client = modelClient(service.url, await service.token(workspace));
  doc = (await (await fetch(`${service.url}/openapi.json`)).json()) as Json;
});
afterAll(() => service.dispose());

/** Every field of our protos that carries a rule, by "Message.field". */
const annotated: ReadonlyMap<string, DescField> = new Map(
  [...file_modelservice_v1_model.messages, ...file_modelservice_v1_model_service.messages]
    .flatMap((m: DescMessage) => m.fields)
    .filter((f) => hasOption(f, rules) || hasOption(f, page_size))
    .map((f) => [`${f.parent.name}.${f.name}`, f]),
);

function rulesOf(name: string): FieldRules {
  const field = annotated.get(name);
  if (!field) throw new Error(`${name} carries no rule in the proto`);
  return fieldRules(field)!;
}

// ---------------------------------------------------------------- over the wire

/**
 * How to put a value into each rule-bearing field of a request, and the path
 * a refusal names. `fill(n)` builds a value of n characters or entries that
 * obeys every other rule of the field.
 */
interface WireCase {
  path: string;
  send: (c: ModelClient, value: any) => Promise<unknown>;
  fill: (n: number) => unknown;
}

const letters = (n: number) => "a".repeat(n);
const create = (spec: Json = {}, metadata: Json = {}) => ({ model: { metadata: { name: "Rulebook", ...metadata }, spec }, validateOnly: true });
const labelsOf = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ model: { metadata: { name: `Batch ${i}` } } }));
/** A label selector of exactly n characters ("a=b,a=b,…,a=bbb"). */
const selectorOf = (n: number) => ("a=b,".repeat(Math.floor((n - 3) / 4)) + "a=b").padEnd(n, "b");
/** A valid filter of exactly n characters. */
const filterOf = (n: number) => `metadata.name = "${"x".repeat(n - 18)}"`;
/** A valid exact dollar figure of n characters: "1." then digits ending in a non-zero one. */
const usdOf = (n: number) => `1.${"5".repeat(n - 2)}`;

const lengthCases: Record<string, WireCase> = {
  "ResourceMetadata.name": { path: "model.metadata.name", fill: letters, send: (c, v) => c.createModel(create({}, { name: v })) },
  "ResourceMetadata.external_id": { path: "model.metadata.externalId", fill: letters, send: (c, v) => c.createModel(create({}, { externalId: v })) },
  "ResourceMetadata.bundle_key": { path: "model.metadata.bundleKey", fill: letters, send: (c, v) => c.createModel(create({}, { bundleKey: v })) },
  "ModelSpec.family": { path: "model.spec.family", fill: letters, send: (c, v) => c.createModel(create({ family: v })) },
  "ModelSpec.provider": { path: "model.spec.provider", fill: letters, send: (c, v) => c.createModel(create({ provider: v })) },
  "ModelSpec.description": { path: "model.spec.description", fill: letters, send: (c, v) => c.createModel(create({ description: v })) },
  ...Object.fromEntries(
    ["input", "output", "cachedInput"].map((p) => {
      const json = `${p}PricePerMillionTokensUsd`;
      const proto = `${p.replace("cachedInput", "cached_input")}_price_per_million_tokens_usd`;
      return [`ModelSpec.${proto}`, { path: `model.spec.${json}`, fill: usdOf, send: (c: ModelClient, v: string) => c.createModel(create({ [json]: v })) }];
    }),
  ),
  "ModelSpec.model_url": {
    path: "model.spec.modelUrl",
    fill: (n: number) => `https://example.com/${"a".repeat(n - 20)}`,
    send: (c, v) => c.createModel(create({ modelUrl: v })),
  },
  "Credentials.token": {
    path: "model.spec.credentials.token",
    fill: letters,
    send: (c, v) => c.createModel(create({ modelUrl: "https://example.com", credentials: { token: v } })),
  },
  "CreateModelRequest.request_id": { path: "requestId", fill: letters, send: (c, v) => c.createModel({ ...create(), requestId: v }) },
  "ListModelsRequest.prefix": { path: "prefix", fill: letters, send: (c, v) => c.listModels({ prefix: v }) },
  "ListModelsRequest.query": { path: "query", fill: letters, send: (c, v) => c.listModels({ query: v }) },
  "ListModelsRequest.bundle_key": { path: "bundleKey", fill: letters, send: (c, v) => c.listModels({ bundleKey: v }) },
  "ListModelsRequest.labels": { path: "labels", fill: selectorOf, send: (c, v) => c.listModels({ labels: v }) },
  "ListModelsRequest.filter": { path: "filter", fill: filterOf, send: (c, v) => c.listModels({ filter: v }) },
  "ListSystemModelsRequest.prefix": { path: "prefix", fill: letters, send: (c, v) => c.listSystemModels({ prefix: v }) },
  "ApplyBundleRequest.bundle_key": { path: "bundleKey", fill: letters, send: (c, v) => c.applyBundle({ bundleKey: v, dryRun: true }) },
};

const countCases: Record<string, WireCase> = {
  "ResourceMetadata.labels": { path: "model.metadata.labels", fill: labelsOf, send: (c, v) => c.createModel(create({}, { labels: v })) },
  "BatchCreateModelsRequest.requests": { path: "requests", fill: batch, send: (c, v) => c.batchCreateModels({ requests: v }) },
};

const rangeCases: Record<string, Omit<WireCase, "fill">> = {
  "ModelSpec.max_input_tokens": { path: "model.spec.maxInputTokens", send: (c, v) => c.createModel(create({ maxInputTokens: Number(v) })) },
  "ModelSpec.input_price_per_million_tokens": {
    path: "model.spec.inputPricePerMillionTokens",
    send: (c, v) => c.createModel(create({ inputPricePerMillionTokens: BigInt(v) })),
  },
  "ListModelsRequest.limit": { path: "limit", send: (c, v) => c.listModels({ limit: Number(v) }) },
};

async function violationsOf(call: Promise<unknown>): Promise<string[] | "accepted"> {
  try {
    await call;
    return "accepted";
  } catch (e) {
    if (!(e instanceof ConnectError) || e.code !== Code.InvalidArgument) throw e;
    return e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
  }
}

describe("validation enforces the rulebook over the wire", () => {
  it.each(Object.entries(lengthCases))("%s: max_length accepted, one more refused", async (name, c) => {
    const max = rulesOf(name).maxLength!;
    expect(max, `${name} has a max_length`).toBeGreaterThan(0);
    expect(await violationsOf(c.send(client, c.fill(max)))).toBe("accepted");
    expect(await violationsOf(c.send(client, c.fill(max + 1)))).toEqual([c.path]);
  });

  it.each(Object.entries(countCases))("%s: max_items accepted, one more refused", async (name, c) => {
    const max = rulesOf(name).maxItems!;
    expect(await violationsOf(c.send(client, c.fill(max)))).toBe("accepted");
    expect(await violationsOf(c.send(client, c.fill(max + 1)))).toEqual([c.path]);
  }, 60_000);

  it.each(Object.entries(rangeCases))("%s: minimum and maximum accepted, beyond refused", async (name, c) => {
    const r = rulesOf(name);
    expect(r.minimum ?? r.maximum, `${name} has a range`).toBeDefined();
    for (const bound of [r.minimum, r.maximum]) if (bound !== undefined) expect(await violationsOf(c.send(client, bound))).toBe("accepted");
    if (r.minimum !== undefined) expect(await violationsOf(c.send(client, r.minimum - 1n))).toEqual([c.path]);
    if (r.maximum !== undefined) expect(await violationsOf(c.send(client, r.maximum + 1n))).toEqual([c.path]);
  });

  it("BatchCreateModelsRequest.requests: fewer than min_items refused", async () => {
    expect(await violationsOf(client.batchCreateModels({ requests: batch(rulesOf("BatchCreateModelsRequest.requests").minItems! - 1) }))).toEqual(["requests"]);
  });

  it("label keys and values obey key_pattern and value_pattern", async () => {
    const r = rulesOf("ResourceMetadata.labels");
    expect(new RegExp(r.keyPattern!, "u").test("-key")).toBe(false);
    expect(await violationsOf(client.createModel(create({}, { labels: { "-key": "v" } })))).toEqual(["model.metadata.labels"]);
    expect(new RegExp(r.valuePattern!, "u").test("a b")).toBe(false);
    expect(await violationsOf(client.createModel(create({}, { labels: { key: "a b" } })))).toEqual(["model.metadata.labels.key"]);
  });

  it("a limit of 0 asks for the default page size", async () => {
    const { defaultSize } = pageSizeOf(annotated.get("ListModelsRequest.limit")!);
    const page = await client.listModels({ limit: 0 });
    expect(page.items).toHaveLength(Math.min(page.pagination!.total!, defaultSize));
  });
});

// ---------------------------------------------------------------- OpenAPI

/** The schemas the document gives a field: in its message's component, as a query parameter, or in an inline request body. */
function documentedSchemas(field: DescField): Json[] {
  const found: Json[] = [];
  const component = doc.components.schemas[field.parent.typeName];
  if (component?.properties?.[field.jsonName]) found.push(component.properties[field.jsonName]);
  for (const item of Object.values(doc.paths) as Json[]) {
    for (const op of Object.values(item) as Json[]) {
      const method = ModelService.methods.find((m) => m.name === String(op.operationId).split("_")[0]);
      if (method?.input !== field.parent) continue;
      for (const p of op.parameters ?? []) if (p.name === field.jsonName) found.push({ ...p.schema, description: p.description });
      const body = op.requestBody?.content?.["application/json"]?.schema;
      if (body?.properties?.[field.jsonName]) found.push(body.properties[field.jsonName]);
    }
  }
  return found;
}

describe("the OpenAPI document states the rulebook", () => {
  it.each([...annotated.keys()])("%s", (name) => {
    const field = annotated.get(name)!;
    const r = fieldRules(field);
    const schemas = documentedSchemas(field);
    expect(schemas.length, `${name} is documented somewhere`).toBeGreaterThan(0);
    for (const s of schemas) {
      expect(s.maxLength).toBe(r?.maxLength);
      expect(s.pattern).toBe(r?.pattern ?? (s.format === "int64" ? "^-?[0-9]+$" : undefined));
      expect(s.minimum).toBe(r?.minimum === undefined ? undefined : Number(r.minimum));
      expect(s.maximum).toBe(r?.maximum === undefined ? undefined : Number(r.maximum));
      if (field.fieldKind === "list") {
        expect(s.minItems).toBe(r?.minItems);
        expect(s.maxItems).toBe(r?.maxItems);
      }
      if (field.fieldKind === "map") {
        expect(s.maxProperties).toBe(r?.maxItems);
        expect(s.propertyNames?.pattern).toBe(r?.keyPattern);
        expect(s.additionalProperties?.pattern).toBe(r?.valuePattern);
      }
      if (hasOption(field, page_size)) {
        expect(s.default).toBe(pageSizeOf(field).defaultSize);
        expect(s.description).toContain(`At most ${pageSizeOf(field).maxSize}`);
      }
    }
  });
});

// ---------------------------------------------------------------- CLI help

function cliHelp(group: string, verb: string): Promise<string> {
  return new Promise((done, fail) =>
    execFile(process.execPath, ["--import", "tsx", "src/cli/modelservice.ts", group, verb, "--help"], { cwd: root, timeout: 60_000 }, (error, stdout) =>
      error ? fail(error) : done(String(stdout).replace(/\s+/g, " ").toLowerCase()),
    ),
  );
}

/** The words the help gives each rule of a field. */
function ruleWords(field: DescField): string[] {
  const r = fieldRules(field);
  const words: string[] = [];
  if (r?.maxLength !== undefined) words.push(`at most ${r.maxLength} characters`);
  if (r?.pattern !== undefined) words.push(r.pattern);
  if (r?.minimum !== undefined) words.push(`at least ${r.minimum}`);
  if (r?.maximum !== undefined) words.push(`at most ${r.maximum}`);
  if (hasOption(field, page_size)) words.push(`default ${pageSizeOf(field).defaultSize}, at most ${pageSizeOf(field).maxSize}`);
  return words;
}

describe("the CLI help states the rulebook", () => {
  const commands: Array<[string, string[]]> = [
    ["CreateModel", ["ResourceMetadata.name", "ResourceMetadata.external_id", "ModelSpec.description", "ModelSpec.max_input_tokens", "CreateModelRequest.request_id"]],
    ["ListModels", ["ListModelsRequest.limit", "ListModelsRequest.prefix", "ListModelsRequest.filter"]],
  ];

  it.each(commands)("%s --help", async (rpc, names) => {
    const { group, verb } = commandName(rpc);
    const help = await cliHelp(group, verb);
    for (const name of names) for (const words of ruleWords(annotated.get(name)!)) expect(help, name).toContain(words.toLowerCase());
  }, 120_000);
});

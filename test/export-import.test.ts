import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parse } from "csv-parse/sync";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus } from "../gen/modelservice/v1/model_pb.js";
import { ExportModelsRequestSchema } from "../gen/modelservice/v1/model_service_pb.js";
import { parseLabels } from "../src/domain/models/model-csv-read.js";
import { formatLabels } from "../src/domain/models/model-csv-write.js";
import { modelCsvColumns } from "../src/proto/model-csv-columns.js";
import { ModelTransfer } from "../src/domain/models/model-transfer.js";
import type { ModelListQuery, ModelRecord, ModelStore } from "../src/storage/model-store.js";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { encodeEnvelope, readAllBytes, type UniversalHandler, type UniversalServerRequest } from "@connectrpc/connect/protocol";
import { endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { httpBindings } from "../src/wire/rest/http-rules.js";
import { restHandler } from "../src/wire/rest/rest-handler.js";
import { modelClient } from "./support/clients.js";
import type { StatusJson } from "./support/rest.js";
import { startTestService, type TestService } from "./support/service.js";
import { noFacts } from "../src/domain/models/spec-facts.js";

/**
 * Seed 002's CSV export and import over the wire: ExportModels as REST
 * (GET …/models:export, text/csv streamed) and as a Connect / gRPC server
 * stream of google.api.HttpBody; ImportModels as REST (POST …/models:import
 * with the raw CSV) and Connect. Round trip into a fresh workspace, dry run,
 * per-row errors, filters, and never a secret.
 */

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.dispose());

type Row = Record<string, string>;

interface ImportJson {
  createdCount: number;
  updatedCount: number;
  unchangedCount: number;
  errors: Array<{ row: number; column: string; reason: string }>;
  dryRun: boolean;
  unmatchedIdCount: number;
}

interface ModelJson {
  metadata: { id: string; name: string; catalogId?: string; externalId?: string; labels?: Record<string, string> };
  spec: { status?: string };
}

const tokens = new Map<string, string>();
async function tokenFor(workspaceId: string, scope?: string): Promise<string> {
  const key = `${workspaceId} ${scope ?? ""}`;
  if (!tokens.has(key)) tokens.set(key, await service.token(workspaceId, scope ? { scope } : {}));
  return tokens.get(key)!;
}

async function rest(workspaceId: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const isText = typeof body === "string" || body instanceof Uint8Array;
  return fetch(service.url + path, {
    method,
    headers: {
      authorization: `Bearer ${await tokenFor(workspaceId)}`,
      ...(body !== undefined && !isText ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : isText ? (body as string) : JSON.stringify(body),
  });
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function createModel(workspaceId: string, model: unknown): Promise<ModelJson> {
  return json<ModelJson>(await rest(workspaceId, "POST", "/v1/models", model));
}

async function listAll(workspaceId: string, query = ""): Promise<ModelJson[]> {
  const page = await json<{ items: ModelJson[]; pagination: { total: number } }>(
    await rest(workspaceId, "GET", `/v1/models?limit=1000${query === "" ? "" : "&" + query}`),
  );
  expect(page.items.length).toBe(page.pagination.total);
  return page.items;
}

function rowsOf(csv: string): Row[] {
  return parse(csv, { columns: true, bom: true }) as Row[];
}

async function exportCsv(workspaceId: string, query = ""): Promise<string> {
  const res = await rest(workspaceId, "GET", `/v1/models:export${query === "" ? "" : "?" + query}`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
  return text;
}

async function importCsv(workspaceId: string, csv: string, query = "", contentType = "text/csv"): Promise<ImportJson> {
  return json<ImportJson>(await rest(workspaceId, "POST", `/v1/models:import${query === "" ? "" : "?" + query}`, csv, { "content-type": contentType }));
}

/** The rows without what differs between workspaces (ids and times), as sorted comparable strings. */
function portable(rows: Row[]): string[] {
  return rows
    .map((r) => {
      const { id: _id, createdAt: _c, updatedAt: _u, ...rest } = r;
      return JSON.stringify(rest);
    })
    .sort();
}

const secretToken = "sk-export-test-SECRET-0123456789";
const secretKey = "sk-export-test-SECRETKEY-987654";
const trickyName = 'Custom, "quoted" — ünïcødé 模型 😀';
const trickyDescription = 'line one\nline two, with "quotes", commas\r\nand a CRLF; semicolons=too';

describe("ExportModels", () => {
  const ws = "ws_export";
  let custom: ModelJson;
  let catalog: ModelJson[];

  beforeAll(async () => {
    custom = await createModel(ws, {
      metadata: { name: trickyName, externalId: "ext-1", labels: { env: "prod", team: "ai/ml", "mail.to": "ops@x.io" } },
      spec: {
        provider: "acme",
        family: "acme-1",
        description: trickyDescription,
        modelUrl: "https://api.acme.example/v1",
        credentials: { token: secretToken },
        inputPricePerMillionTokensUsd: "0.075",
        outputPricePerMillionTokensUsd: "15",
        maxInputTokens: 128000,
        capabilities: ["MODEL_CAPABILITY_TOOL_CALLING", "MODEL_CAPABILITY_VISION"],
      },
    });
    await createModel(ws, {
      metadata: { name: "Bundled keys", externalId: "ext-2", bundleKey: "bundle-a" },
      spec: {
        provider: "acme",
        family: "acme-2",
        modelUrl: "https://api.acme.example/v2",
        credentials: { clientKey: "ck-export-test", secretKey },
        status: "MODEL_STATUS_DISABLED",
      },
    });
    catalog = (await listAll(ws)).filter((m) => m.metadata.catalogId !== undefined);
    await json(await rest(ws, "POST", `/v1/models/${catalog[0]!.metadata.id}:disable`, {}));
  });

  it("GET /v1/models:export streams text/csv: a header and one row per model, enum names, exact prices, labels, no secret", async () => {
    const csv = await exportCsv(ws);
    expect(csv.includes(secretToken) || csv.includes(secretKey) || csv.includes("ck-export-test")).toBe(false);
    expect(csv.startsWith(modelCsvColumns.join(",") + "\r\n")).toBe(true);
    expect(csv.endsWith("\r\n")).toBe(true);
    const rows = rowsOf(csv);
    const models = await listAll(ws);
    expect(rows.map((r) => r.id).sort()).toEqual(models.map((m) => m.metadata.id).sort());
    expect(Object.keys(rows[0]!)).toEqual([...modelCsvColumns]);
    expect(Object.keys(rows[0]!).some((c) => /credential|secret|token$/i.test(c) && c !== "hasToken")).toBe(false);

    const row = rows.find((r) => r.id === custom.metadata.id)!;
    expect(row).toMatchObject({
      catalogId: "",
      externalId: "ext-1",
      name: trickyName,
      labels: "env=prod;mail.to=ops@x.io;team=ai/ml",
      provider: "acme",
      family: "acme-1",
      description: trickyDescription,
      modelUrl: "https://api.acme.example/v1",
      status: "MODEL_STATUS_ENABLED",
      inputPricePerMillionTokensUsd: "0.075",
      outputPricePerMillionTokensUsd: "15",
      cachedInputPricePerMillionTokensUsd: "",
      maxInputTokens: "128000",
      maxOutputTokens: "",
      capabilities: "MODEL_CAPABILITY_VISION;MODEL_CAPABILITY_TOOL_CALLING",
      origin: "MODEL_ORIGIN_WORKSPACE",
      hasToken: "true",
      hasClientKey: "false",
      deleteTime: "",
    });
    expect(row.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const keyed = rows.find((r) => r.externalId === "ext-2")!;
    expect(keyed).toMatchObject({ bundleKey: "bundle-a", status: "MODEL_STATUS_DISABLED", hasToken: "false", hasClientKey: "true" });
    const disabled = rows.find((r) => r.id === catalog[0]!.metadata.id)!;
    expect(disabled).toMatchObject({ catalogId: catalog[0]!.metadata.catalogId, origin: "MODEL_ORIGIN_SYSTEM", status: "MODEL_STATUS_DISABLED" });
    // Every status cell is an enum name, every price an exact decimal.
    for (const r of rows) {
      expect(r.status).toMatch(/^MODEL_STATUS_(ENABLED|DISABLED)$/);
      for (const p of [r.inputPricePerMillionTokensUsd, r.outputPricePerMillionTokensUsd, r.cachedInputPricePerMillionTokensUsd]) {
        expect(p).toMatch(/^$|^(0|[1-9]\d*)(\.\d*[1-9])?$/);
      }
    }
  });

  it("serves the workspace-scoped route too, and refuses another workspace", async () => {
    expect(await exportCsv(ws)).toBe(await (await rest(ws, "GET", `/v1/workspaces/${ws}/models:export`)).text());
    const other = await rest(ws, "GET", "/v1/workspaces/ws_someone_else/models:export");
    expect(other.status).toBe(403);
    expect(other.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect((JSON.parse(await other.text()) as StatusJson).code).toBe(Code.PermissionDenied);
  });

  it.each([
    "status=MODEL_STATUS_DISABLED",
    "bundleKey=bundle-a",
    "bundle_key=bundle-a",
    "labels=env%3Dprod,team%3Dai%2Fml",
    "prefix=custom",
    "query=acme",
    "filter=" + encodeURIComponent('spec.provider = "acme" AND spec.maxInputTokens >= 100000'),
  ])("honours the filters of ListModels: %s", async (query) => {
    const rows = rowsOf(await exportCsv(ws, query));
    const listed = await listAll(ws, query);
    expect(listed.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.id).sort()).toEqual(listed.map((m) => m.metadata.id).sort());
  });

  it("refuses bad filters before the first byte, as a google.rpc.Status", async () => {
    for (const [query, field] of [
      ["labels=nonsense", "labels"],
      ["filter=" + encodeURIComponent("spec.nope = 1"), "filter"],
      ["status=MODEL_STATUS_WHATEVER", "status"],
    ] as const) {
      const res = await rest(ws, "GET", `/v1/models:export?${query}`);
      const body = JSON.parse(await res.text()) as StatusJson;
      expect(res.status, query).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(body.code).toBe(Code.InvalidArgument);
      expect(body.details?.[0]?.fieldViolations?.[0]?.field).toBe(field);
    }
    const anonymous = await fetch(`${service.url}/v1/models:export`);
    expect(anonymous.status).toBe(401);
  });

  it.each(["connect+json", "connect+proto", "grpc", "grpc-web"])("streams google.api.HttpBody chunks over %s", async (protocol) => {
    const client = modelClient(service.url, await tokenFor(ws), protocol);
    const chunks: Uint8Array[] = [];
    for await (const chunk of client.exportModels({})) {
      expect(chunk.contentType).toBe("text/csv; charset=utf-8");
      chunks.push(chunk.data);
    }
    expect(Buffer.concat(chunks).toString("utf8")).toBe(await exportCsv(ws));
    const disabled: Uint8Array[] = [];
    for await (const chunk of client.exportModels({ status: ModelStatus.DISABLED })) disabled.push(chunk.data);
    const rows = rowsOf(Buffer.concat(disabled).toString("utf8"));
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.status === "MODEL_STATUS_DISABLED")).toBe(true);
  });

  it("reports a bad filter over Connect as InvalidArgument", async () => {
    const client = modelClient(service.url, await tokenFor(ws));
    const error = await (async () => {
      for await (const _ of client.exportModels({ labels: "=" })) void _;
    })().catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
  });
});

describe("ImportModels", () => {
  const source = "ws_source";

  beforeAll(async () => {
    await createModel(source, {
      metadata: { name: trickyName, externalId: "src-1", labels: { env: "prod", "team.name": "ai-ml", url: "a:b@c/d" } },
      spec: {
        provider: "acme",
        family: "acme-1",
        description: trickyDescription,
        modelUrl: "bedrock://anthropic.claude-v2",
        inputPricePerMillionTokensUsd: "0.075",
        cachedInputPricePerMillionTokensUsd: "0.0375",
        outputPricePerMillionTokensUsd: "3.5",
        maxInputTokens: 200000,
        maxOutputTokens: 8192,
        capabilities: ["MODEL_CAPABILITY_REASONING", "MODEL_CAPABILITY_PROMPT_CACHING"],
        status: "MODEL_STATUS_DISABLED",
      },
    });
    await createModel(source, { metadata: { name: "No external id, = and ; in name" }, spec: { provider: "p", family: "f" } });
    await createModel(source, { metadata: { name: "Bundled", externalId: "src-3", bundleKey: "bundle.x" }, spec: { provider: "p", family: "g" } });
    const catalog = (await listAll(source)).filter((m) => m.metadata.catalogId !== undefined);
    await json(await rest(source, "POST", `/v1/models/${catalog[1]!.metadata.id}:disable`, {}));
    await json(
      await rest(source, "PATCH", `/v1/models/${catalog[2]!.metadata.id}?updateMask=metadata.labels`, {
        metadata: { labels: { tier: "gold", owner: "platform" } },
      }),
    );
  });

  it("round trip: export → import into a fresh workspace → export gives the same rows but ids and times, without duplicating the catalog", async () => {
    const before = await exportCsv(source);
    const result = await importCsv("ws_target", before);
    expect(result.errors).toEqual([]);
    expect(result).toMatchObject({ createdCount: 3, updatedCount: 2, dryRun: false });
    // The source's ids are no models of the target: every created row says so.
    expect(result.unmatchedIdCount).toBe(3);
    const sourceRows = rowsOf(before);
    expect(result.unchangedCount).toBe(sourceRows.length - 5);
    const after = rowsOf(await exportCsv("ws_target"));
    expect(after.length).toBe(sourceRows.length);
    expect(portable(after)).toEqual(portable(sourceRows));
    expect((await listAll("ws_target")).length).toBe((await listAll(source)).length);
    // Ids are the target's own.
    const sourceIds = new Set(sourceRows.map((r) => r.id));
    expect(after.some((r) => sourceIds.has(r.id))).toBe(false);
  });

  it("a second import of the same file changes nothing but creates rows without an externalId again", async () => {
    const csv = await exportCsv(source);
    const again = await importCsv("ws_target", csv);
    expect(again.errors).toEqual([]);
    expect(again.updatedCount).toBe(0);
    expect(again.createdCount).toBe(1);
    expect(again.unmatchedIdCount).toBe(1);
  });

  it("re-importing an unchanged export into its own workspace is a no-op, models without an externalId included", async () => {
    const csv = await exportCsv(source);
    const rows = rowsOf(csv);
    expect(rows.some((r) => r.externalId === "" && r.catalogId === "")).toBe(true);
    const before = await listAll(source);
    for (const query of ["dryRun=true", ""]) {
      const result = await importCsv(source, csv, query);
      expect(result).toMatchObject({ createdCount: 0, updatedCount: 0, unchangedCount: rows.length, unmatchedIdCount: 0, errors: [] });
    }
    expect((await listAll(source)).length).toBe(before.length);
    expect(await exportCsv(source)).toBe(csv);
  });

  it("matches a row by its id before its externalId, and refuses an id twice", async () => {
    const ws = "ws_by_id";
    const plain = await createModel(ws, { metadata: { name: "Plain" }, spec: { provider: "acme", family: "f1" } });
    const keyed = await createModel(ws, { metadata: { name: "Keyed", externalId: "k-1" }, spec: { provider: "acme", family: "f1" } });
    const count = (await listAll(ws)).length;
    const csv = [
      "id,externalId,name,family",
      `${plain.metadata.id},,Plain renamed,f1`,
      `${keyed.metadata.id},k-2,Keyed renamed,f1`,
      `${plain.metadata.id},,Twice,f1`,
    ].join("\r\n");
    const result = await importCsv(ws, csv);
    expect(result).toMatchObject({ createdCount: 0, updatedCount: 2, unmatchedIdCount: 0 });
    expect(result.errors).toEqual([{ row: 4, column: "id", reason: expect.stringContaining("row 2") }]);
    const models = await listAll(ws);
    expect(models.length).toBe(count);
    expect(models.find((m) => m.metadata.id === plain.metadata.id)?.metadata.name).toBe("Plain renamed");
    expect(models.find((m) => m.metadata.id === keyed.metadata.id)?.metadata).toMatchObject({ name: "Keyed renamed", externalId: "k-2" });
  });

  it("a dry run checks every row and writes nothing", async () => {
    const csv = await exportCsv(source);
    const pristine = await exportCsv("ws_dry");
    const result = await importCsv("ws_dry", csv, "dryRun=true");
    expect(result).toMatchObject({ createdCount: 3, updatedCount: 2, dryRun: true, errors: [] });
    expect(await exportCsv("ws_dry")).toBe(pristine);
    // A dry run still reports what a real one would refuse.
    const bad = await importCsv("ws_dry", "name,status\r\nx,MODEL_STATUS_NOPE\r\n", "dry_run=true");
    expect(bad.errors).toEqual([{ row: 2, column: "status", reason: expect.stringContaining("MODEL_STATUS_ENABLED") }]);
  });

  it("reports per-row errors (row, column, reason) and still imports the good rows", async () => {
    const ws = "ws_errors";
    const catalogId = (await listAll(ws)).find((m) => m.metadata.catalogId)!.metadata.catalogId!;
    const csv = [
      "name,externalId,provider,family,status,inputPricePerMillionTokensUsd,catalogId,origin,labels,maxInputTokens,modelUrl",
      "Good one,good-1,acme,a1,MODEL_STATUS_ENABLED,0.075,,,env=prod,1000,",
      "Bad status,bad-1,acme,a1,ENABLED,1,,,,,",
      "Bad price,bad-2,acme,a1,,1.2.3,,,,,",
      "Unknown catalog,,,,MODEL_STATUS_DISABLED,,nope/none,MODEL_ORIGIN_SYSTEM,,,",
      ",bad-4,acme,a1,,,,,,,",
      '"Good, two ""quoted""",good-2,acme,a2,MODEL_STATUS_DISABLED,2.50,,,team=x,,',
      "Bad labels,bad-5,acme,a1,,,,,novalue,,",
      "Bad tokens,bad-6,acme,a1,,,,,,-5,",
      "Bad url,bad-7,acme,a1,,,,,,,ftp://nope",
      "Too few fields,bad-8",
      `Catalog copy,,,,MODEL_STATUS_DISABLED,,${catalogId},MODEL_ORIGIN_SYSTEM,reviewed=yes,,`,
      "Repeated,good-1,acme,a1,,,,,,,",
    ].join("\r\n");
    const result = await importCsv(ws, csv);
    expect(result.createdCount).toBe(2);
    expect(result.updatedCount).toBe(1);
    expect(result.unchangedCount).toBe(0);
    const byRow = new Map(result.errors.map((e) => [e.row, e]));
    expect(byRow.get(3)).toMatchObject({ column: "status" });
    expect(byRow.get(4)).toMatchObject({ column: "inputPricePerMillionTokensUsd" });
    expect(byRow.get(5)).toMatchObject({ column: "catalogId" });
    expect(byRow.get(6)).toMatchObject({ column: "name", reason: "is required" });
    expect(byRow.get(8)).toMatchObject({ column: "labels" });
    expect(byRow.get(9)).toMatchObject({ column: "maxInputTokens" });
    expect(byRow.get(10)).toMatchObject({ column: "modelUrl" });
    expect(byRow.get(11)).toMatchObject({ column: "" });
    expect(byRow.get(13)).toMatchObject({ column: "externalId", reason: expect.stringContaining("row 2") });
    expect(result.errors.map((e) => e.row).sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 8, 9, 10, 11, 13]);
    for (const e of result.errors) expect(e.reason).not.toBe("");

    const models = await listAll(ws);
    const good = models.find((m) => m.metadata.externalId === "good-1") as ModelJson & { spec: Record<string, unknown> };
    expect(good.spec).toMatchObject({ inputPricePerMillionTokens: "8", inputPricePerMillionTokensUsd: "0.075", status: "MODEL_STATUS_ENABLED" });
    const two = models.find((m) => m.metadata.externalId === "good-2") as ModelJson & { spec: Record<string, unknown> };
    expect(two.metadata.name).toBe('Good, two "quoted"');
    expect(two.spec).toMatchObject({ inputPricePerMillionTokensUsd: "2.5", inputPricePerMillionTokens: "250", status: "MODEL_STATUS_DISABLED" });
    const copy = models.find((m) => m.metadata.catalogId === catalogId)!;
    expect(copy.spec.status).toBe("MODEL_STATUS_DISABLED");
    expect(copy.metadata.labels).toEqual({ reviewed: "yes" });
    expect(models.some((m) => m.metadata.externalId?.startsWith("bad-"))).toBe(false);
  });

  it("updates models matched by externalId, only where the row differs", async () => {
    const ws = "ws_update";
    await createModel(ws, { metadata: { name: "Before", externalId: "u-1", labels: { a: "1" } }, spec: { provider: "acme", family: "f1" } });
    const result = await importCsv(ws, "externalId,name,family,labels\r\nu-1,After,f1,a=1\r\n");
    expect(result).toMatchObject({ createdCount: 0, updatedCount: 1, unchangedCount: 0, errors: [] });
    const model = (await listAll(ws)).find((m) => m.metadata.externalId === "u-1") as ModelJson & { spec: Record<string, unknown> };
    expect(model.metadata.name).toBe("After");
    expect(model.spec.provider).toBe("acme");
    expect((await importCsv(ws, "externalId,name,family,labels\r\nu-1,After,f1,a=1\r\n")).unchangedCount).toBe(1);
  });

  it("takes the CSV over Connect JSON and proto too", async () => {
    for (const protocol of ["connect+json", "connect+proto"]) {
      const ws = `ws_connect_${protocol.replace(/\W/g, "_")}`;
      const client = modelClient(service.url, await tokenFor(ws), protocol);
      const data = new TextEncoder().encode(`name,externalId,labels\r\n${JSON.stringify(trickyName).replace(/\\"/g, '""')},c-1,k=v\r\n`);
      const result = await client.importModels({ csv: { contentType: "text/csv", data } });
      expect(result.errors).toEqual([]);
      expect(result.createdCount).toBe(1);
      const dry = await client.importModels({ csv: { contentType: "text/csv", data }, dryRun: true });
      expect(dry.unchangedCount).toBe(1);
      expect(dry.dryRun).toBe(true);
      expect((await listAll(ws)).find((m) => m.metadata.externalId === "c-1")?.metadata.name).toBe(trickyName);
    }
  });

  it("takes application/octet-stream and the workspace-scoped route; refuses what is not CSV", async () => {
    const ws = "ws_rest_import";
    const res = await rest(ws, "POST", `/v1/workspaces/${ws}/models:import`, "name\r\nOctet\r\n", { "content-type": "application/octet-stream" });
    expect((await json<ImportJson>(res)).createdCount).toBe(1);

    const refusals: Array<[string, string, string]> = [
      ["name,bogus\r\nx,y\r\n", "text/csv", "csv"],
      ["family\r\nx\r\n", "text/csv", "csv"],
      ['name\r\n"unterminated\r\n', "text/csv", "csv"],
      ["name\r\nx\r\n", "application/json", "csv.contentType"],
      ["", "text/csv", "csv"],
    ];
    for (const [body, contentType, field] of refusals) {
      const r = await rest(ws, "POST", "/v1/models:import", body, { "content-type": contentType });
      const status = JSON.parse(await r.text()) as StatusJson;
      expect(r.status, body).toBe(400);
      expect(status.details?.[0]?.fieldViolations?.[0]?.field, body).toBe(field);
    }
    const anonymous = await fetch(`${service.url}/v1/models:import`, { method: "POST", body: "name\r\nx\r\n", headers: { "content-type": "text/csv" } });
    expect(anonymous.status).toBe(401);
  });

  it("needs models:create to create rows, but not to update them", async () => {
    const ws = "ws_scopes";
    const updater = await service.token(ws, { scope: "models:read models:update" });
    const catalogId = (await listAll(ws)).find((m) => m.metadata.catalogId)!.metadata.catalogId!;
    const res = await fetch(`${service.url}/v1/models:import`, {
      method: "POST",
      headers: { authorization: `Bearer ${updater}`, "content-type": "text/csv" },
      body: `name,catalogId,status\r\nCopy,${catalogId},MODEL_STATUS_DISABLED\r\nNew,,\r\n`,
    });
    const result = await json<ImportJson>(res);
    expect(result.updatedCount).toBe(1);
    expect(result.createdCount).toBe(0);
    expect(result.errors).toEqual([{ row: 3, column: "", reason: expect.stringContaining("models:create") }]);
  });
});

describe("the CSV codec", () => {
  it("escapes ;, = and \\ in labels and reads them back", () => {
    const labels = { "a;b": "c=d", "e\\f": "", plain: "v" };
    const text = formatLabels(labels);
    expect(text).toBe("a\\;b=c\\=d;e\\\\f=;plain=v");
    expect(parseLabels(text)).toEqual(labels);
    expect(parseLabels("")).toEqual({});
    expect(typeof parseLabels("novalue")).toBe("string");
    expect(typeof parseLabels("a=1;a=2")).toBe("string");
  });

  it("exports 100,000 models a page at a time, with flat memory", async () => {
    const total = 100_000;
    const template: ModelRecord = {
      id: "",
      workspaceId: "ws_big",
      accountId: "acct",
      name: "",
      profileId: "p",
      bundleKey: null,
      externalId: null,
      labels: { env: "prod" },
      catalogId: null,
      systemModelId: null,
      origin: "MODEL_ORIGIN_WORKSPACE",
      visible: true,
      spec: {
        family: "f",
        provider: "p",
        inputPriceCents: 8,
        outputPriceCents: 30,
        cachedInputPriceCents: null,
        inputPriceUsd: "0.075",
        outputPriceUsd: "0.3",
        cachedInputPriceUsd: null,
        maxInputTokens: 1000,
        maxOutputTokens: null,
        capabilities: [],
        description: "x".repeat(200),
        modelUrl: null,
        ...noFacts,
      },
      credentials: { keyId: null, blob: null, hasToken: false, hasClientKey: false, fingerprint: null, updatedAt: null },
      status: "MODEL_STATUS_ENABLED",
      version: 1,
      createdAt: 0,
      updatedAt: 0,
      deleteTime: null,
      purgeTime: null,
    };
    let largestPage = 0;
    const store = {
      async listModels(q: ModelListQuery) {
        const start = q.after ? Number(q.after.id.slice(6)) + 1 : 0;
        const models = Array.from({ length: Math.max(0, Math.min(q.limit, total - start)) }, (_, i) => ({
          ...template,
          id: `model_${start + i}`,
          name: `Model ${start + i}`,
          createdAt: start + i,
        }));
        largestPage = Math.max(largestPage, models.length);
        return { models, positions: models.map((m) => ({ values: [m.createdAt], id: m.id })), total };
      },
    } as unknown as ModelStore;
    const transfer = new ModelTransfer(store, undefined as never, { maxCsvBytes: 1 << 22 });
    const principal = { profileId: "p", accountId: "acct", workspaceId: "ws_big", scopes: new Set(["models:read"]), tokenId: "token" };
    // Retained memory, measured after a full collection every few chunks: what the export holds, not its garbage.
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let retained = 0;
    let bytes = 0;
    let lines = 0;
    let chunks = 0;
    for await (const chunk of transfer.export(principal, create(ExportModelsRequestSchema))) {
      chunks++;
      bytes += chunk.byteLength;
      for (const b of chunk) if (b === 10) lines++;
      if (chunks % 100 === 0) {
        gc();
        retained = Math.max(retained, process.memoryUsage().heapUsed - baseline);
      }
    }
    expect(lines).toBe(total + 1);
    expect(largestPage).toBeLessThanOrEqual(1000);
    expect(chunks).toBeGreaterThan(100);
    // The file is tens of megabytes; the export holds a page and a chunk at a time.
    expect(bytes).toBeGreaterThan(30_000_000);
    expect(retained).toBeLessThan(8_000_000);
  }, 120_000);
});

describe("REST transcoding of a server stream of google.api.HttpBody", () => {
  let server: Server;
  let url: string;
  let script: Array<Uint8Array | "pause">;
  let seen: { contentType: string | null; flags: number; message: unknown } | undefined;

  const body = (text: string) =>
    encodeEnvelope(0, Buffer.from(JSON.stringify({ contentType: "text/csv; charset=utf-8", data: Buffer.from(text).toString("base64") })));
  const end = (error?: { code: string; message: string }) => encodeEnvelope(endStreamFlag, Buffer.from(JSON.stringify(error ? { error } : {})));

  beforeAll(async () => {
    // A stand-in for connect's handler of ExportModels: it records the Connect streaming request and plays a script.
    const fake = async (req: UniversalServerRequest) => {
      const bytes = await readAllBytes(req.body as AsyncIterable<Uint8Array>, 1 << 20);
      seen = { contentType: req.header.get("content-type"), flags: bytes[0]!, message: JSON.parse(Buffer.from(bytes.subarray(5)).toString()) };
      const steps = script;
      return {
        status: 200,
        header: new Headers({ "content-type": "application/connect+json", "x-request-id": "req-1" }),
        body: (async function* () {
          for (const step of steps) {
            if (step === "pause") await new Promise((r) => setTimeout(r, 20));
            else yield step;
          }
        })(),
      };
    };
    const bindings = httpBindings([ModelService]);
    const rest = restHandler({ bindings, handlers: new Map([[ModelService.method.exportModels, fake as unknown as UniversalHandler]]), maxBodyBytes: 1024 });
    server = createServer((req, res) => {
      if (!rest(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("calls the Connect streaming protocol and writes each message's data as it arrives", async () => {
    script = [body("id,name\r\n"), "pause", body("1,a\r\n"), body(""), body("2,b\r\n"), end()];
    const res = await fetch(`${url}/v1/models:export?status=MODEL_STATUS_DISABLED&labels=env%3Dprod`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("x-request-id")).toBe("req-1");
    expect(await res.text()).toBe("id,name\r\n1,a\r\n2,b\r\n");
    expect(seen).toEqual({ contentType: "application/connect+json", flags: 0, message: { status: "MODEL_STATUS_DISABLED", labels: "env=prod" } });
  });

  it("answers an error before the first byte as the usual google.rpc.Status", async () => {
    script = [end({ code: "failed_precondition", message: "not now" })];
    const res = await fetch(`${url}/v1/workspaces/ws_x/models:export`);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect(await res.json()).toMatchObject({ code: Code.FailedPrecondition, message: "not now" });
  });

  it("cuts the response off when the stream fails midway, so the client sees a truncated transfer", async () => {
    script = [body("id,name\r\n"), "pause", body("1,a\r\n"), "pause", end({ code: "unavailable", message: "database went away" })];
    const res = await fetch(`${url}/v1/models:export`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = "";
    const failure = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        received += Buffer.from(value).toString();
      }
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    // What was sent before the failure arrived; the end never did.
    expect(received).toBe("id,name\r\n1,a\r\n");
    // A stream that stops without its end message is cut off too.
    script = [body("id,name\r\n")];
    await expect((await fetch(`${url}/v1/models:export`)).text()).rejects.toThrow();
  });
});

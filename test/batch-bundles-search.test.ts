import type { MessageInitShape } from "@bufbuild/protobuf";
import { anyUnpack, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import type { Status } from "../gen/google/rpc/status_pb.js";
import { ModelCapability, ModelOrigin, ModelStatus, type Model, type ModelSchema } from "../gen/modelservice/v1/model_pb.js";
import {
  BundleAction,
  RevisionAction,
  type BatchModelsResponse,
  type ListModelsRequest,
  type ListModelsResponse,
} from "../gen/modelservice/v1/model_service_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import type { StatusJson } from "./support/rest.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Batch methods (AIP-233/234/235), ApplyBundle, ListModels search (FTS5 query,
 * AIP-160 filter, AIP-132 orderBy with keyset pagination, facets) and
 * RefreshCatalog, over the wire: Connect JSON and REST everywhere, gRPC for a
 * batch round trip. Expected results are computed here from full lists, never
 * read back from the service's own logic.
 */

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.dispose());

// ---------------------------------------------------------------------------
// helpers

type ModelInit = MessageInitShape<typeof ModelSchema>;
type ListParams = Partial<Omit<ListModelsRequest, "$typeName" | "$unknown">>;

const readOnlyScope = "models:read";

const clientCache = new Map<string, ModelClient>();
function client(token: string, protocol = "connect+json"): ModelClient {
  const key = `${protocol} ${token}`;
  let c = clientCache.get(key);
  if (!c) clientCache.set(key, (c = modelClient(service.url, token, protocol)));
  return c;
}

/** A token and Connect JSON client for a workspace; the first call creates it with its catalog copies. */
async function workspace(ws: string, scope?: string): Promise<{ token: string; c: ModelClient }> {
  const token = await service.token(ws, scope === undefined ? {} : { scope });
  const c = client(token);
  if (scope === undefined) await c.listModels({ limit: 1 });
  return { token, c };
}

let counter = 0;
function unique(label: string): string {
  return `${label}-${++counter}-${Math.random().toString(36).slice(2, 7)}`;
}

function model(name: string, o: { externalId?: string; provider?: string; family?: string; description?: string; labels?: Record<string, string> } = {}): ModelInit {
  return {
    metadata: { name, ...(o.externalId !== undefined ? { externalId: o.externalId } : {}), labels: o.labels ?? {} },
    spec: {
      provider: o.provider ?? "acme",
      ...(o.family !== undefined ? { family: o.family } : {}),
      ...(o.description !== undefined ? { description: o.description } : {}),
    },
  };
}

function idOf(m: Model | undefined): string {
  expect(m?.metadata?.id, "model id").toBeTruthy();
  return m!.metadata!.id;
}

/** How many models the workspace has in all, deleted ones included. */
async function totalOf(c: ModelClient): Promise<number> {
  return (await c.listModels({ limit: 1, showDeleted: true })).pagination!.total!;
}

async function listAll(c: ModelClient, params: ListParams = {}): Promise<Model[]> {
  const res = await c.listModels({ limit: 1000, ...params });
  expect(res.pagination?.nextCursor).toBe("");
  return res.items;
}

function violationsOfError(e: ConnectError): Array<{ field: string; description: string }> {
  return e.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
}

function violationsOfStatus(s: Status): Array<{ field: string; description: string }> {
  return s.details.flatMap((d) => anyUnpack(d, BadRequestSchema)?.fieldViolations.map((v) => ({ field: v.field, description: v.description })) ?? []);
}

/** Awaits a call that must fail with `code`; returns the error for more checks. */
async function expectConnectError(call: Promise<unknown>, code: Code, field?: string): Promise<ConnectError> {
  let error: ConnectError | undefined;
  try {
    await call;
  } catch (e) {
    error = ConnectError.from(e);
  }
  expect(error, `expected ${Code[code]}, but the call succeeded`).toBeDefined();
  expect(Code[error!.code], error!.message).toBe(Code[code]);
  if (field !== undefined) expect(violationsOfError(error!).map((v) => v.field), error!.message).toContain(field);
  return error!;
}

interface RestResult<T> {
  status: number;
  body: T;
}

async function rest<T = Record<string, unknown>>(token: string, method: string, path: string, body?: unknown): Promise<RestResult<T>> {
  const res = await fetch(service.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text.slice(0, 300)}`).toBeLessThan(500);
  return { status: res.status, body: JSON.parse(text) as T };
}

function restFields(s: StatusJson): string[] {
  return (s.details ?? []).flatMap((d) => (d.fieldViolations ?? []).map((v) => v.field));
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  return q.toString() === "" ? "" : `?${q.toString()}`;
}

function resultModel(res: BatchModelsResponse, i: number): Model {
  const r = res.results[i]!.result;
  expect(r.case, `results[${i}]: ${r.case === "status" ? r.value.message : ""}`).toBe("model");
  return r.value as Model;
}

function resultStatus(res: BatchModelsResponse, i: number): Status {
  const r = res.results[i]!.result;
  expect(r.case, `results[${i}]`).toBe("status");
  return r.value as Status;
}

// ---------------------------------------------------------------------------
// Batch methods

describe("BatchCreateModels", () => {
  const ws = "ws_batch_create";
  let c: ModelClient;
  let token: string;

  beforeAll(async () => {
    ({ c, token } = await workspace(ws));
  });

  it("atomic: 600 items with an empty name at index 499 → InvalidArgument naming requests[499].model.metadata.name; nothing created", async () => {
    const before = await totalOf(c);
    const tag = unique("Atomic600");
    const requests = Array.from({ length: 600 }, (_, i) => ({ model: model(i === 499 ? "" : `${tag} ${i}`) }));
    const error = await expectConnectError(c.batchCreateModels({ requests }), Code.InvalidArgument, "requests[499].model.metadata.name");
    expect(error.rawMessage).toContain("requests[499]");
    expect(violationsOfError(error).every((v) => v.field.startsWith("requests[499]."))).toBe(true);
    expect(await totalOf(c)).toBe(before);
    expect((await c.listModels({ prefix: tag, showDeleted: true })).pagination?.total).toBe(0);
  });

  it("atomic: a write conflict at index 499 rolls back the 499 writes before it", async () => {
    const before = await totalOf(c);
    const tag = unique("Rollback600");
    const requests = Array.from({ length: 600 }, (_, i) => ({ model: model(`${tag} ${i}`, { externalId: i === 499 ? `${tag}-0` : `${tag}-${i}` }) }));
    const error = await expectConnectError(c.batchCreateModels({ requests }), Code.AlreadyExists);
    expect(error.rawMessage).toContain("requests[499]");
    expect(await totalOf(c)).toBe(before);
    expect((await c.listModels({ prefix: tag, showDeleted: true })).pagination?.total).toBe(0);
  });

  it("atomic: item 3 repeating item 1's externalId → AlreadyExists naming requests[3]; nothing created", async () => {
    const before = await totalOf(c);
    const tag = unique("Dup");
    const requests = [0, 1, 2, 3, 4].map((i) => ({ model: model(`${tag} ${i}`, { externalId: i === 3 ? `${tag}-1` : `${tag}-${i}` }) }));
    const error = await expectConnectError(c.batchCreateModels({ requests }), Code.AlreadyExists);
    expect(error.rawMessage).toContain("requests[3]");
    expect(error.rawMessage).not.toContain("requests[1]");
    expect(await totalOf(c)).toBe(before);
  });

  it("atomic: an externalId already held by a model of the workspace → AlreadyExists naming that item", async () => {
    const taken = unique("taken");
    await c.createModel({ model: model(unique("Holder"), { externalId: taken }) });
    const before = await totalOf(c);
    const tag = unique("Held");
    const error = await expectConnectError(
      c.batchCreateModels({ requests: [{ model: model(`${tag} a`) }, { model: model(`${tag} b`, { externalId: taken }) }] }),
      Code.AlreadyExists,
    );
    expect(error.rawMessage).toContain("requests[1]");
    expect(await totalOf(c)).toBe(before);
  });

  it("atomic success returns the models in request order, and lists them", async () => {
    const tag = unique("Ok");
    const names = [0, 1, 2, 3].map((i) => `${tag} ${i}`);
    const res = await c.batchCreateModels({ requests: names.map((n) => ({ model: model(n, { labels: { batch: "ok" } }) })) });
    expect(res.results).toEqual([]);
    expect(res.models.map((m) => m.metadata!.name)).toEqual(names);
    for (const m of res.models) {
      expect(m.metadata!.workspaceId).toBe(ws);
      expect(m.metadata!.origin).toBe(ModelOrigin.WORKSPACE);
      expect(m.metadata!.labels).toEqual({ batch: "ok" });
    }
    const listed = await listAll(c, { prefix: tag });
    expect(new Set(listed.map(idOf))).toEqual(new Set(res.models.map(idOf)));
  });

  it("allowPartial: good items are created; bad ones get their own status with code and field violation", async () => {
    const tag = unique("Partial");
    const taken = unique("p-taken");
    await c.createModel({ model: model(unique("PHolder"), { externalId: taken }) });
    const before = await totalOf(c);
    const res = await c.batchCreateModels({
      allowPartial: true,
      requests: [
        { model: model(`${tag} 0`) },
        { model: model("") },
        { model: model(`${tag} 2`) },
        { model: model(`${tag} 3`, { externalId: taken }) },
        { model: { metadata: { name: `${tag} 4` }, spec: { maxInputTokens: -5 } } },
        { model: model(`${tag} 5`) },
      ],
    });
    expect(res.models).toEqual([]);
    expect(res.results).toHaveLength(6);
    for (const i of [0, 2, 5]) expect(resultModel(res, i).metadata!.name).toBe(`${tag} ${i}`);
    const empty = resultStatus(res, 1);
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(violationsOfStatus(empty).map((v) => v.field).some((f) => f.endsWith("model.metadata.name"))).toBe(true);
    expect(resultStatus(res, 3).code).toBe(Code.AlreadyExists);
    const negative = resultStatus(res, 4);
    expect(negative.code).toBe(Code.InvalidArgument);
    expect(violationsOfStatus(negative).map((v) => v.field).some((f) => f.endsWith("model.spec.maxInputTokens"))).toBe(true);
    expect(await totalOf(c)).toBe(before + 3);
    expect(new Set((await listAll(c, { prefix: tag })).map(idOf))).toEqual(new Set([0, 2, 5].map((i) => idOf(resultModel(res, i)))));
  });

  it("more than 1000 items → InvalidArgument on requests; none at all too", async () => {
    const before = await totalOf(c);
    const requests = Array.from({ length: 1001 }, (_, i) => ({ model: model(`Too many ${i}`) }));
    await expectConnectError(c.batchCreateModels({ requests }), Code.InvalidArgument, "requests");
    await expectConnectError(c.batchCreateModels({ requests, allowPartial: true }), Code.InvalidArgument, "requests");
    await expectConnectError(c.batchCreateModels({ requests: [] }), Code.InvalidArgument, "requests");
    expect(await totalOf(c)).toBe(before);
  });

  it("REST POST /v1/models:batchCreate {requests:[{model}]} → {models:[…]}; the workspace form too", async () => {
    const tag = unique("Rest");
    const a = await rest<{ models: Array<{ metadata: { id: string; name: string } }>; results?: unknown[] }>(token, "POST", "/v1/models:batchCreate", {
      requests: [{ model: { metadata: { name: `${tag} a` }, spec: { provider: "acme", inputPricePerMillionTokens: "120" } } }, { model: { metadata: { name: `${tag} b` } } }],
    });
    expect(a.status).toBe(200);
    expect(a.body.models.map((m) => m.metadata.name)).toEqual([`${tag} a`, `${tag} b`]);
    expect(a.body.results ?? []).toEqual([]);
    const b = await rest<{ models: Array<{ metadata: { id: string; workspaceId: string } }> }>(token, "POST", `/v1/workspaces/${ws}/models:batchCreate`, {
      requests: [{ model: { metadata: { name: `${tag} c` } } }],
    });
    expect(b.status).toBe(200);
    expect(b.body.models[0]!.metadata.workspaceId).toBe(ws);
    expect((await listAll(c, { prefix: tag })).length).toBe(3);

    // Atomic failure over REST: 400 with the indexed field; partial over REST: the Status of each item as JSON.
    const bad = await rest<StatusJson>(token, "POST", "/v1/models:batchCreate", { requests: [{ model: { metadata: { name: `${tag} d` } } }, { model: { metadata: { name: "" } } }] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(Code.InvalidArgument);
    expect(restFields(bad.body)).toContain("requests[1].model.metadata.name");
    const partial = await rest<{ results: Array<{ model?: { metadata: { name: string } }; status?: StatusJson }> }>(token, "POST", "/v1/models:batchCreate", {
      allowPartial: true,
      requests: [{ model: { metadata: { name: `${tag} e` } } }, { model: { metadata: { name: "" } } }],
    });
    expect(partial.status).toBe(200);
    expect(partial.body.results[0]!.model?.metadata.name).toBe(`${tag} e`);
    expect(partial.body.results[1]!.status?.code).toBe(Code.InvalidArgument);
    expect(partial.body.results[1]!.status?.details?.[0]?.["@type"]).toBe("type.googleapis.com/google.rpc.BadRequest");
    expect(restFields(partial.body.results[1]!.status!).some((f) => f.endsWith("model.metadata.name"))).toBe(true);
    expect((await listAll(c, { prefix: tag })).length).toBe(4);
  });

  it("records a CREATE revision per model under the call's request id", async () => {
    const tag = unique("Rev");
    const requestId = unique("batch-req");
    const res = await c.batchCreateModels(
      { requests: [{ model: model(`${tag} a`) }, { model: model(`${tag} b`) }] },
      { headers: { "x-request-id": requestId } },
    );
    for (const m of res.models) {
      const revisions = await c.listModelRevisions({ id: idOf(m) });
      expect(revisions.items.map((r) => r.action)).toEqual([RevisionAction.CREATE]);
      expect(revisions.items[0]!.requestId).toBe(requestId);
      expect(revisions.items[0]!.profileId).toBe("profile_test");
      expect(revisions.items[0]!.modelId).toBe(idOf(m));
    }
  });

  it("a per-item requestId replays: the same model again, nothing new", async () => {
    const tag = unique("Idem");
    const r1 = unique("item-req");
    const r2 = unique("item-req");
    const requests = [
      { model: model(`${tag} a`), requestId: r1 },
      { model: model(`${tag} b`), requestId: r2 },
    ];
    const first = await c.batchCreateModels({ requests });
    const before = await totalOf(c);
    const again = await c.batchCreateModels({ requests });
    expect(again.models.map(idOf)).toEqual(first.models.map(idOf));
    expect(await totalOf(c)).toBe(before);
    // A replayed item beside a new one: the replay returns the first model, the new one is created.
    const mixed = await c.batchCreateModels({ requests: [{ model: model(`${tag} c`) }, requests[0]!] });
    expect(mixed.models[1]!.metadata!.id).toBe(first.models[0]!.metadata!.id);
    expect(await totalOf(c)).toBe(before + 1);
    // The same requestId in a single request replays the batch item too.
    expect(idOf(await c.createModel(requests[1]!))).toBe(idOf(first.models[1]));
    // allowPartial replays as well.
    const partial = await c.batchCreateModels({ requests, allowPartial: true });
    expect([0, 1].map((i) => idOf(resultModel(partial, i)))).toEqual(first.models.map(idOf));
    expect(await totalOf(c)).toBe(before + 1);
  });

  it("a reused requestId with another body → AlreadyExists naming the item; nothing created", async () => {
    const tag = unique("IdemConflict");
    const r1 = unique("item-req");
    await c.batchCreateModels({ requests: [{ model: model(`${tag} a`), requestId: r1 }] });
    const before = await totalOf(c);
    const error = await expectConnectError(
      c.batchCreateModels({ requests: [{ model: model(`${tag} new`) }, { model: model(`${tag} other body`), requestId: r1 }] }),
      Code.AlreadyExists,
    );
    expect(error.rawMessage).toContain("requests[1]");
    expect(await totalOf(c)).toBe(before);
  });

  it("one atomic batch whose two items share a requestId: the same body → one model; another body → AlreadyExists and nothing created", async () => {
    const tag = unique("IdemInBatch");
    const same = unique("item-req");
    const before = await totalOf(c);
    const body = model(`${tag} same`);
    const res = await c.batchCreateModels({ requests: [{ model: body, requestId: same }, { model: body, requestId: same }] });
    expect(res.models).toHaveLength(2);
    expect(idOf(res.models[1])).toBe(idOf(res.models[0]));
    expect(await totalOf(c)).toBe(before + 1);

    const clash = unique("item-req");
    const error = await expectConnectError(
      c.batchCreateModels({ requests: [{ model: model(`${tag} first`), requestId: clash }, { model: model(`${tag} second`), requestId: clash }] }),
      Code.AlreadyExists,
    );
    expect.soft(error.rawMessage, "the error names the failing item").toContain("requests[1]");
    // All or nothing: the first item must not have been kept.
    expect.soft((await listAll(c, { prefix: `${tag} first`, showDeleted: true })).map((m) => m.metadata!.name), "nothing created").toEqual([]);
    expect.soft(await totalOf(c)).toBe(before + 1);
  });

  it("an item naming another workspace → PermissionDenied; nothing created", async () => {
    const before = await totalOf(c);
    await expectConnectError(
      c.batchCreateModels({ requests: [{ model: model(unique("Mine")) }, { workspaceId: "ws_someone_else", model: model(unique("Theirs")) }] }),
      Code.PermissionDenied,
    );
    expect(await totalOf(c)).toBe(before);
  });
});

describe("BatchUpdateModels and BatchDeleteModels", () => {
  const ws = "ws_batch_update";
  let c: ModelClient;
  let token: string;
  let catalogId: string;

  beforeAll(async () => {
    ({ c, token } = await workspace(ws));
    catalogId = idOf((await listAll(c)).find((m) => m.metadata?.origin === ModelOrigin.SYSTEM));
  });

  async function three(tag: string): Promise<Model[]> {
    return (await c.batchCreateModels({ requests: [0, 1, 2].map((i) => ({ model: model(`${tag} ${i}`, { description: "v1" }) })) })).models;
  }

  it("atomic: all updated in request order, each with an UPDATE revision", async () => {
    const models = await three(unique("Upd"));
    const res = await c.batchUpdateModels({
      requests: models.map((m, i) => ({ id: idOf(m), model: { metadata: { etag: m.metadata!.etag }, spec: { description: `v2-${i}` } }, updateMask: { paths: ["spec.description"] } })),
    });
    expect(res.models.map((m) => m.spec!.description)).toEqual(["v2-0", "v2-1", "v2-2"]);
    expect(res.models.map(idOf)).toEqual(models.map(idOf));
    for (const [i, m] of models.entries()) {
      const got = await c.getModel({ id: idOf(m) });
      expect(got.spec!.description).toBe(`v2-${i}`);
      expect(got.metadata!.etag).not.toBe(m.metadata!.etag);
      expect((await c.listModelRevisions({ id: idOf(m) })).items.map((r) => r.action)).toEqual([RevisionAction.UPDATE, RevisionAction.CREATE]);
    }
  });

  it("atomic: a stale etag on one item → Aborted naming it, and no item changed", async () => {
    const models = await three(unique("Stale"));
    await c.updateModel({ id: idOf(models[1]), model: { spec: { description: "changed meanwhile" } }, updateMask: { paths: ["spec.description"] } });
    const current = await Promise.all(models.map((m) => c.getModel({ id: idOf(m) })));
    const error = await expectConnectError(
      c.batchUpdateModels({
        requests: models.map((m) => ({ id: idOf(m), model: { metadata: { etag: m.metadata!.etag }, spec: { description: "lost" } }, updateMask: { paths: ["spec.description"] } })),
      }),
      Code.Aborted,
    );
    expect(error.rawMessage).toContain("requests[1]");
    for (const [i, m] of models.entries()) expect(await c.getModel({ id: idOf(m) }), `model ${i}`).toEqual(current[i]);
  });

  it("atomic: an unknown id → NotFound naming it; a bad mask → InvalidArgument naming its field; nothing changed", async () => {
    const models = await three(unique("Unknown"));
    const unknown = "model_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const e1 = await expectConnectError(
      c.batchUpdateModels({ requests: [{ id: idOf(models[0]), model: { spec: { description: "x" } } }, { id: unknown, model: { spec: { description: "x" } } }] }),
      Code.NotFound,
    );
    expect(e1.rawMessage).toContain("requests[1]");
    await expectConnectError(
      c.batchUpdateModels({
        requests: [
          { id: idOf(models[0]), model: { spec: { description: "x" } } },
          { id: idOf(models[1]), model: { spec: { description: "x" } }, updateMask: { paths: ["spec.colour"] } },
        ],
      }),
      Code.InvalidArgument,
      "requests[1].updateMask",
    );
    expect((await c.getModel({ id: idOf(models[0]) })).spec!.description).toBe("v1");
  });

  it("allowPartial: each item gets its own result", async () => {
    const models = await three(unique("PUpd"));
    await c.updateModel({ id: idOf(models[1]), model: { spec: { description: "meanwhile" } }, updateMask: { paths: ["spec.description"] } });
    const res = await c.batchUpdateModels({
      allowPartial: true,
      requests: [
        { id: idOf(models[0]), model: { metadata: { etag: models[0]!.metadata!.etag }, spec: { description: "p0" } }, updateMask: { paths: ["spec.description"] } },
        { id: idOf(models[1]), model: { metadata: { etag: models[1]!.metadata!.etag }, spec: { description: "p1" } }, updateMask: { paths: ["spec.description"] } },
        { id: "model_01ARZ3NDEKTSV4RRFFQ69G5FAV", model: { spec: { description: "p2" } } },
        { id: idOf(models[2]), model: { metadata: { name: " " } }, updateMask: { paths: ["metadata.name"] } },
        { id: idOf(models[2]), model: { spec: { description: "p4" } }, updateMask: { paths: ["spec.description"] } },
      ],
    });
    expect(res.results).toHaveLength(5);
    expect(resultModel(res, 0).spec!.description).toBe("p0");
    expect(resultStatus(res, 1).code).toBe(Code.Aborted);
    expect(resultStatus(res, 2).code).toBe(Code.NotFound);
    const blank = resultStatus(res, 3);
    expect(blank.code).toBe(Code.InvalidArgument);
    expect(violationsOfStatus(blank).some((v) => v.field.endsWith("model.metadata.name"))).toBe(true);
    expect(resultModel(res, 4).spec!.description).toBe("p4");
    expect((await c.getModel({ id: idOf(models[1]) })).spec!.description).toBe("meanwhile");
  });

  it("REST POST /v1/models:batchUpdate", async () => {
    const models = await three(unique("RUpd"));
    const res = await rest<{ models: Array<{ spec: { description: string } }> }>(token, "POST", "/v1/models:batchUpdate", {
      requests: models.map((m) => ({ id: idOf(m), model: { spec: { description: "rest" } }, updateMask: "spec.description" })),
    });
    expect(res.status).toBe(200);
    expect(res.body.models.map((m) => m.spec.description)).toEqual(["rest", "rest", "rest"]);
  });

  it("atomic delete: a catalog model among the ids → FailedPrecondition naming ids[i]; none deleted", async () => {
    const models = await three(unique("Del"));
    const ids = [idOf(models[0]), catalogId, idOf(models[1])];
    const error = await expectConnectError(c.batchDeleteModels({ ids }), Code.FailedPrecondition);
    expect(error.rawMessage).toContain("ids[1]");
    for (const id of ids) expect((await c.getModel({ id })).metadata!.deleteTime).toBeUndefined();
    const unknown = await expectConnectError(c.batchDeleteModels({ ids: [idOf(models[0]), "model_01ARZ3NDEKTSV4RRFFQ69G5FAV"] }), Code.NotFound);
    expect(unknown.rawMessage).toContain("ids[1]");
    expect((await c.getModel({ id: idOf(models[0]) })).metadata!.deleteTime).toBeUndefined();
  });

  it("atomic delete success, with DELETE revisions; partial delete gives per-item statuses", async () => {
    const models = await three(unique("DelOk"));
    const res = await c.batchDeleteModels({ ids: models.slice(0, 2).map(idOf) });
    expect(res.models.map(idOf)).toEqual(models.slice(0, 2).map(idOf));
    for (const m of res.models) expect(m.metadata!.deleteTime).toBeDefined();
    expect((await c.listModelRevisions({ id: idOf(models[0]) })).items[0]!.action).toBe(RevisionAction.DELETE);

    const partial = await c.batchDeleteModels({ ids: [idOf(models[2]), catalogId, idOf(models[0])], allowPartial: true });
    expect(partial.results).toHaveLength(3);
    expect(resultModel(partial, 0).metadata!.deleteTime).toBeDefined();
    expect(resultStatus(partial, 1).code).toBe(Code.FailedPrecondition);
    expect(resultStatus(partial, 2).code).toBe(Code.NotFound); // already deleted
    expect((await c.getModel({ id: catalogId })).metadata!.deleteTime).toBeUndefined();
  });

  it("REST POST /v1/models:batchDelete {ids:[…]} → {models:[…]} with deleteTime; an atomic failure is 400 and deletes nothing", async () => {
    const models = await three(unique("RDel"));
    const bad = await rest<StatusJson>(token, "POST", "/v1/models:batchDelete", { ids: [idOf(models[0]), catalogId] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(Code.FailedPrecondition);
    expect(bad.body.message).toContain("ids[1]");
    expect((await c.getModel({ id: idOf(models[0]) })).metadata!.deleteTime).toBeUndefined();
    const res = await rest<{ models: Array<{ metadata: { id: string; deleteTime?: string } }> }>(token, "POST", `/v1/workspaces/${ws}/models:batchDelete`, {
      ids: models.map(idOf),
    });
    expect(res.status).toBe(200);
    expect(res.body.models.map((m) => m.metadata.id)).toEqual(models.map(idOf));
    expect(res.body.models.every((m) => typeof m.metadata.deleteTime === "string")).toBe(true);
    const tooMany = await rest<StatusJson>(token, "POST", "/v1/models:batchDelete", { ids: Array.from({ length: 1001 }, () => idOf(models[0])) });
    expect(tooMany.status).toBe(400);
    expect(restFields(tooMany.body)).toContain("ids");
  });

  it("gRPC: a batch create, update and delete round trip, and a partial result's Status details", async () => {
    const g = client(token, "grpc");
    const tag = unique("Grpc");
    const created = await g.batchCreateModels({ requests: [0, 1].map((i) => ({ model: model(`${tag} ${i}`, { labels: { via: "grpc" } }) })) });
    expect(created.models.map((m) => m.metadata!.name)).toEqual([`${tag} 0`, `${tag} 1`]);
    const updated = await g.batchUpdateModels({
      requests: created.models.map((m) => ({ id: idOf(m), model: { metadata: { etag: m.metadata!.etag }, spec: { family: "grpc-family" } }, updateMask: { paths: ["spec.family"] } })),
    });
    expect(updated.models.map((m) => m.spec!.family)).toEqual(["grpc-family", "grpc-family"]);
    const partial = await g.batchCreateModels({ allowPartial: true, requests: [{ model: model(`${tag} 2`) }, { model: model("") }] });
    expect(resultModel(partial, 0).metadata!.name).toBe(`${tag} 2`);
    expect(violationsOfStatus(resultStatus(partial, 1)).some((v) => v.field.endsWith("model.metadata.name"))).toBe(true);
    const atomic = await expectConnectError(g.batchCreateModels({ requests: [{ model: model(`${tag} 3`) }, { model: model("") }] }), Code.InvalidArgument, "requests[1].model.metadata.name");
    expect(atomic.rawMessage).toContain("requests[1]");
    const deleted = await g.batchDeleteModels({ ids: [...created.models.map(idOf), idOf(resultModel(partial, 0))] });
    expect(deleted.models.every((m) => m.metadata!.deleteTime !== undefined)).toBe(true);
    expect(await listAll(c, { prefix: tag })).toEqual([]);
  });
});

describe("batch scopes", () => {
  it("a read-only token → PermissionDenied for every batch method and ApplyBundle; over REST 403", async () => {
    const ws = "ws_batch_scopes";
    const { c: admin } = await workspace(ws);
    const target = await admin.createModel({ model: model(unique("Target")) });
    const before = await totalOf(admin);
    const { c: ro, token: roToken } = await workspace(ws, readOnlyScope);
    await expectConnectError(ro.batchCreateModels({ requests: [{ model: model("Nope") }] }), Code.PermissionDenied);
    await expectConnectError(ro.batchUpdateModels({ requests: [{ id: idOf(target), model: { spec: { description: "x" } } }] }), Code.PermissionDenied);
    await expectConnectError(ro.batchDeleteModels({ ids: [idOf(target)] }), Code.PermissionDenied);
    await expectConnectError(ro.applyBundle({ bundleKey: "b", models: [model("Nope", { externalId: "nope" })] }), Code.PermissionDenied);
    const r = await rest<StatusJson>(roToken, "POST", "/v1/models:batchCreate", { requests: [{ model: { metadata: { name: "Nope" } } }] });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe(Code.PermissionDenied);
    // models:create alone does not allow updates or deletes.
    const { c: creator } = await workspace(ws, "models:read models:create");
    await expectConnectError(creator.batchUpdateModels({ requests: [{ id: idOf(target), model: { spec: { description: "x" } } }] }), Code.PermissionDenied);
    await expectConnectError(creator.batchDeleteModels({ ids: [idOf(target)] }), Code.PermissionDenied);
    expect(await totalOf(admin)).toBe(before);
    expect(await admin.getModel({ id: idOf(target) })).toEqual(target);
    expect((await creator.batchCreateModels({ requests: [{ model: model(unique("Allowed")) }] })).models).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------
// ApplyBundle

describe("ApplyBundle", () => {
  const ws = "ws_bundle";
  const key = "team-a";
  let c: ModelClient;
  let token: string;
  let outside: Model;
  let otherBundle: Model;

  function bundleModel(n: number, description = `model ${n} of the bundle`): ModelInit {
    return {
      metadata: { name: `Bundle Model ${n}`, externalId: `b-${n}`, labels: { bundle: "team-a", n: String(n) } },
      spec: {
        provider: "acme",
        family: `bundle-${n}`,
        description,
        inputPricePerMillionTokens: BigInt(100 * n),
        outputPricePerMillionTokens: BigInt(400 * n),
        maxInputTokens: 32000 * n,
        maxOutputTokens: 4096,
        capabilities: [ModelCapability.TOOL_CALLING],
      },
    };
  }
  const desired = [1, 2, 3, 4].map((n) => bundleModel(n));
  const byExternalId = new Map<string, Model>();

  beforeAll(async () => {
    ({ c, token } = await workspace(ws));
    outside = await c.createModel({ model: model("Outside Model", { externalId: "outside-1" }) });
    const other = await c.applyBundle({ bundleKey: "team-b", models: [model("Other Bundle Model", { externalId: "other-1" })] });
    expect(other.createdCount).toBe(1);
    otherBundle = other.models[0]!;
  });

  async function untouched(): Promise<void> {
    expect(await c.getModel({ id: idOf(outside) })).toEqual(outside);
    expect(await c.getModel({ id: idOf(otherBundle) })).toEqual(otherBundle);
  }

  it("first apply creates every listed model, owned by the bundle", async () => {
    const res = await c.applyBundle({ bundleKey: key, models: desired }, { headers: { "x-request-id": "bundle-apply-1" } });
    expect([res.createdCount, res.updatedCount, res.deletedCount, res.unchangedCount]).toEqual([4, 0, 0, 0]);
    expect(res.dryRun).toBe(false);
    expect(res.models).toHaveLength(4);
    for (const m of res.models) {
      expect(m.metadata!.bundleKey).toBe(key);
      byExternalId.set(m.metadata!.externalId!, m);
    }
    expect([...byExternalId.keys()].sort()).toEqual(["b-1", "b-2", "b-3", "b-4"]);
    expect(res.plan.map((s) => s.action)).toEqual(Array(4).fill(BundleAction.CREATE));
    expect(res.plan.map((s) => s.modelId).sort()).toEqual(res.models.map(idOf).sort());
    const listed = await listAll(c, { bundleKey: key });
    expect(new Set(listed.map(idOf))).toEqual(new Set(res.models.map(idOf)));
    const b3 = byExternalId.get("b-3")!;
    expect(b3.spec!.inputPricePerMillionTokens).toBe(300n);
    expect(b3.spec!.maxInputTokens).toBe(96000);
    const revisions = await c.listModelRevisions({ id: idOf(b3) });
    expect(revisions.items.map((r) => [r.action, r.requestId])).toEqual([[RevisionAction.CREATE, "bundle-apply-1"]]);
    await untouched();
  });

  it("re-applying the same list is a no-op and says so: all unchanged, nothing written", async () => {
    const res = await c.applyBundle({ bundleKey: key, models: desired });
    expect([res.createdCount, res.updatedCount, res.deletedCount, res.unchangedCount]).toEqual([0, 0, 0, 4]);
    expect(res.plan.map((s) => s.action)).toEqual(Array(4).fill(BundleAction.UNCHANGED));
    for (const [externalId, before] of byExternalId) {
      const now = await c.getModel({ id: idOf(before) });
      expect(now.metadata!.etag, externalId).toBe(before.metadata!.etag);
      expect(timestampMs(now.metadata!.updatedAt!)).toBe(timestampMs(before.metadata!.updatedAt!));
      expect(now).toEqual(before);
      expect((await c.listModelRevisions({ id: idOf(before) })).pagination?.total).toBe(1);
    }
    await untouched();
  });

  it("dryRun reports the plan and writes nothing", async () => {
    const totalBefore = await totalOf(c);
    const changed = [bundleModel(1), bundleModel(2, "a new description"), bundleModel(3), bundleModel(5)];
    const res = await c.applyBundle({ bundleKey: key, models: changed, dryRun: true });
    expect(res.dryRun).toBe(true);
    expect([res.createdCount, res.updatedCount, res.deletedCount, res.unchangedCount]).toEqual([1, 1, 1, 2]);
    const step = (externalId: string) => res.plan.find((s) => s.externalId === externalId);
    expect(step("b-5")?.action).toBe(BundleAction.CREATE);
    expect(step("b-5")?.modelId).toBe("");
    expect(step("b-2")?.action).toBe(BundleAction.UPDATE);
    expect(step("b-2")?.modelId).toBe(idOf(byExternalId.get("b-2")));
    expect(step("b-2")?.changedFields.map((f) => f.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase()))).toEqual(["spec.description"]);
    expect(step("b-4")?.action).toBe(BundleAction.DELETE);
    expect(step("b-4")?.modelId).toBe(idOf(byExternalId.get("b-4")));
    expect(step("b-1")?.action).toBe(BundleAction.UNCHANGED);
    expect(res.plan).toHaveLength(5);
    expect(await totalOf(c)).toBe(totalBefore);
    for (const before of byExternalId.values()) expect(await c.getModel({ id: idOf(before) })).toEqual(before);
    expect(await listAll(c, { prefix: "Bundle Model 5", showDeleted: true })).toEqual([]);
  });

  it("change one + drop one → updated 1, deleted 1 (soft), others unchanged, models outside the bundle untouched", async () => {
    const changed = [bundleModel(1), bundleModel(2, "a new description"), bundleModel(3)];
    const res = await c.applyBundle({ bundleKey: key, models: changed });
    expect([res.createdCount, res.updatedCount, res.deletedCount, res.unchangedCount]).toEqual([0, 1, 1, 2]);
    expect(res.dryRun).toBe(false);
    expect(res.models.map((m) => m.metadata!.externalId).sort()).toEqual(["b-1", "b-2", "b-3"]);
    const b2 = await c.getModel({ id: idOf(byExternalId.get("b-2")) });
    expect(b2.spec!.description).toBe("a new description");
    expect(b2.metadata!.etag).not.toBe(byExternalId.get("b-2")!.metadata!.etag);
    expect((await c.listModelRevisions({ id: idOf(b2) })).items[0]!.action).toBe(RevisionAction.UPDATE);
    const b4 = await c.getModel({ id: idOf(byExternalId.get("b-4")) });
    expect(b4.metadata!.deleteTime).toBeDefined();
    expect(b4.metadata!.purgeTime).toBeDefined();
    expect((await c.listModelRevisions({ id: idOf(b4) })).items[0]!.action).toBe(RevisionAction.DELETE);
    for (const ext of ["b-1", "b-3"]) expect(await c.getModel({ id: idOf(byExternalId.get(ext)) })).toEqual(byExternalId.get(ext));
    expect(new Set((await listAll(c, { bundleKey: key })).map((m) => m.metadata!.externalId))).toEqual(new Set(["b-1", "b-2", "b-3"]));
    await untouched();
    byExternalId.set("b-2", b2);
    byExternalId.delete("b-4");
  });

  it("REST /v1/bundles/{bundleKey}:apply and the workspace form", async () => {
    const body = { models: [1, 2, 3].map((n) => ({
      metadata: { name: `Bundle Model ${n}`, externalId: `b-${n}`, labels: { bundle: "team-a", n: String(n) } },
      spec: {
        provider: "acme",
        family: `bundle-${n}`,
        description: n === 2 ? "a new description" : `model ${n} of the bundle`,
        inputPricePerMillionTokens: String(100 * n),
        outputPricePerMillionTokens: String(400 * n),
        maxInputTokens: 32000 * n,
        maxOutputTokens: 4096,
        capabilities: ["MODEL_CAPABILITY_TOOL_CALLING"],
      },
    })) };
    const res = await rest<{ createdCount: number; updatedCount: number; deletedCount: number; unchangedCount: number; dryRun: boolean; models: unknown[]; plan: Array<{ action: string }> }>(
      token,
      "POST",
      `/v1/bundles/${key}:apply`,
      body,
    );
    expect(res.status).toBe(200);
    expect([res.body.createdCount ?? 0, res.body.updatedCount ?? 0, res.body.deletedCount ?? 0, res.body.unchangedCount]).toEqual([0, 0, 0, 3]);
    expect(res.body.plan.map((s) => s.action)).toEqual(Array(3).fill("BUNDLE_ACTION_UNCHANGED"));
    expect(res.body.models).toHaveLength(3);
    const dry = await rest<{ dryRun: boolean; deletedCount: number; plan: Array<{ action: string; externalId: string }> }>(
      token,
      "POST",
      `/v1/workspaces/${ws}/bundles/${key}:apply`,
      { models: body.models.slice(0, 2), dryRun: true },
    );
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.deletedCount).toBe(1);
    expect(dry.body.plan.find((s) => s.externalId === "b-3")?.action).toBe("BUNDLE_ACTION_DELETE");
    expect((await c.getModel({ id: idOf(byExternalId.get("b-3")) })).metadata!.deleteTime).toBeUndefined();
    const bad = await rest<StatusJson>(token, "POST", `/v1/bundles/${key}:apply`, { models: [{ metadata: { name: "No external id" } }] });
    expect(bad.status).toBe(400);
    expect(restFields(bad.body)).toContain("models[0].metadata.externalId");
  });

  it("a listed model without externalId → InvalidArgument naming models[i].metadata.externalId; nothing written", async () => {
    const totalBefore = await totalOf(c);
    await expectConnectError(
      c.applyBundle({ bundleKey: key, models: [bundleModel(1), bundleModel(2, "zzz"), { metadata: { name: "No External" }, spec: { provider: "acme" } }] }),
      Code.InvalidArgument,
      "models[2].metadata.externalId",
    );
    await expectConnectError(
      c.applyBundle({ bundleKey: key, models: [bundleModel(1), bundleModel(3), bundleModel(1)] }),
      Code.InvalidArgument,
      "models[2].metadata.externalId",
    );
    expect(await totalOf(c)).toBe(totalBefore);
    expect((await c.getModel({ id: idOf(byExternalId.get("b-2")) })).spec!.description).toBe("a new description");
  });

  it("an externalId held by a model outside the bundle → FailedPrecondition; nothing written", async () => {
    const totalBefore = await totalOf(c);
    for (const externalId of ["outside-1", "other-1"]) {
      const error = await expectConnectError(
        c.applyBundle({ bundleKey: key, models: [bundleModel(1), bundleModel(2, "zzz"), model("Hijack", { externalId })] }),
        Code.FailedPrecondition,
      );
      expect(error.rawMessage).toContain("models[2]");
    }
    expect(await totalOf(c)).toBe(totalBefore);
    expect((await c.getModel({ id: idOf(byExternalId.get("b-2")) })).spec!.description).toBe("a new description");
    await untouched();
  });

  it("an empty list soft-deletes every model of the bundle and nothing else", async () => {
    const res = await c.applyBundle({ bundleKey: key, models: [] });
    expect([res.createdCount, res.updatedCount, res.deletedCount, res.unchangedCount]).toEqual([0, 0, 3, 0]);
    expect(res.models).toEqual([]);
    expect(await listAll(c, { bundleKey: key })).toEqual([]);
    await untouched();
  });
});

// ---------------------------------------------------------------------------
// Search: query (FTS5), filter (AIP-160), orderBy (AIP-132), facets

describe("full-text query", () => {
  const ws = "ws_fts";
  let c: ModelClient;
  let token: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ({ c, token } = await workspace(ws));
    // The name match is created last, so that neither creation order nor id order puts it first.
    ids.description = idOf(await c.createModel({ model: model("Quiet Helper", { family: "helper-1", description: "Zorblax tuned" }) }));
    ids.labels = idOf(await c.createModel({ model: model("Labelled Helper", { family: "helper-2", labels: { codename: "zorblax" } }) }));
    ids.external = idOf(await c.createModel({ model: model("External Helper", { family: "helper-3", externalId: "zorblax-7" }) }));
    ids.name = idOf(
      await c.createModel({
        model: model("Zorblax Orchestrator", {
          family: "orchestrator-xl",
          description: "General purpose assistant for long documents, code review, data analysis and multilingual customer support.",
        }),
      }),
    );
  });

  /** Lower-cased words of the searchable text of a model, split like FTS5's unicode61 tokenizer. */
  function words(m: Model): string[] {
    const md = m.metadata!;
    const s = m.spec!;
    const text = [md.name, s.family, s.provider, s.description, md.externalId, ...Object.entries(md.labels).flat()].filter((t) => t !== undefined).join(" ");
    return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== "");
  }

  it("prefix matching: \"clau\" finds exactly the models with a word starting with clau (the Claude models)", async () => {
    const all = await listAll(c);
    const expected = all.filter((m) => words(m).some((w) => w.startsWith("clau"))).map(idOf);
    expect(expected.length).toBeGreaterThan(0);
    const found = await listAll(c, { query: "clau" });
    expect(new Set(found.map(idOf))).toEqual(new Set(expected));
    expect(found).toHaveLength(expected.length);
    expect(found.every((m) => m.metadata!.name.toLowerCase().includes("claude"))).toBe(true);
    // Every word must match (as a prefix).
    const both = await listAll(c, { query: "clau son" });
    expect(new Set(both.map(idOf))).toEqual(new Set(all.filter((m) => ["clau", "son"].every((p) => words(m).some((w) => w.startsWith(p)))).map(idOf)));
    // Case-insensitive; REST the same.
    expect(new Set((await listAll(c, { query: "CLAUDE" })).map(idOf))).toEqual(new Set(expected));
    const viaRest = await rest<{ items: Array<{ metadata: { id: string } }> }>(token, "GET", `/v1/models${query({ query: "clau", limit: 1000 })}`);
    expect(new Set(viaRest.body.items.map((m) => m.metadata.id))).toEqual(new Set(expected));
  });

  it("searches name, family, provider, description, labels and external id", async () => {
    const found = await listAll(c, { query: "zorb" });
    expect(new Set(found.map(idOf))).toEqual(new Set(Object.values(ids)));
    expect(idOf((await listAll(c, { query: "orchestrator-xl" }))[0])).toBe(ids.name);
  });

  it("ranking: the model whose name matches comes first when neither sortOrder nor orderBy is given", async () => {
    const ranked = await listAll(c, { query: "zorblax" });
    expect(ranked.map(idOf)).toHaveLength(4);
    expect(ranked.map((m) => m.metadata!.name)[0]).toBe("Zorblax Orchestrator");
    const viaRest = await rest<{ items: Array<{ metadata: { id: string } }> }>(token, "GET", `/v1/models${query({ query: "zorblax" })}`);
    expect(viaRest.body.items[0]!.metadata.id).toBe(ids.name);
  });

  it("with sortOrder the matches come in creation order instead of rank", async () => {
    const asc = await listAll(c, { query: "zorblax", sortOrder: "asc" });
    expect(asc.map(idOf)).toEqual([ids.description, ids.labels, ids.external, ids.name]);
    const desc = await listAll(c, { query: "zorblax", sortOrder: "desc" });
    expect(desc.map(idOf)).toEqual([ids.name, ids.external, ids.labels, ids.description]);
  });

  it("ranked results page with limit 1 visiting each match exactly once", async () => {
    const all = await listAll(c, { query: "helper zorblax" });
    const seen: string[] = [];
    let cursor = "";
    do {
      const page = await c.listModels({ query: "helper zorblax", limit: 1, cursor });
      seen.push(...page.items.map(idOf));
      expect(page.pagination?.total).toBe(all.length);
      cursor = page.pagination!.nextCursor;
    } while (cursor !== "");
    expect(seen).toEqual(all.map(idOf));
    expect(new Set(seen).size).toBe(3);
  });
});

describe("filter, orderBy and facets", () => {
  const ws = "ws_search";
  let c: ModelClient;
  let token: string;
  let all: Model[];
  const named: Record<string, string> = {};

  function spec(o: {
    provider?: string;
    family?: string;
    input?: number;
    output?: number;
    maxIn?: number;
    maxOut?: number;
    description?: string;
    status?: ModelStatus;
  }): ModelInit["spec"] {
    return {
      ...(o.provider !== undefined ? { provider: o.provider } : {}),
      ...(o.family !== undefined ? { family: o.family } : {}),
      ...(o.input !== undefined ? { inputPricePerMillionTokens: BigInt(o.input) } : {}),
      ...(o.output !== undefined ? { outputPricePerMillionTokens: BigInt(o.output) } : {}),
      ...(o.maxIn !== undefined ? { maxInputTokens: o.maxIn } : {}),
      ...(o.maxOut !== undefined ? { maxOutputTokens: o.maxOut } : {}),
      ...(o.description !== undefined ? { description: o.description } : {}),
      ...(o.status !== undefined ? { status: o.status } : {}),
    };
  }

  beforeAll(async () => {
    ({ c, token } = await workspace(ws));
    const customs: Array<[string, ModelInit]> = [
      ["prodLarge", { metadata: { name: "Acme Prod Large", labels: { env: "prod", team: "ai" } }, spec: spec({ provider: "acme", family: "acme-large", input: 250, output: 1000, maxIn: 128000, maxOut: 8192 }) }],
      ["devSmall", { metadata: { name: "Acme Dev Small", labels: { env: "dev" } }, spec: spec({ provider: "acme", family: "acme-small", input: 10, output: 40, maxIn: 8000, maxOut: 2048 }) }],
      ["bare", { metadata: { name: "Acme Bare" }, spec: spec({ provider: "acme" }) }],
      ["bareTwo", { metadata: { name: "Acme Bare Two" }, spec: spec({ provider: "acme", description: "bare model" }) }],
      ["bareThree", { metadata: { name: "acme bare three" }, spec: spec({ provider: "acme", maxIn: 4000 }) }],
      ["injection", { metadata: { name: "x' OR 1=1 --", labels: { tier: "gold" } }, spec: spec({ provider: "acme", family: "Zeta", input: 99 }) }],
      ["percent", { metadata: { name: "%" }, spec: spec({ provider: "acme", input: 1 }) }],
      ["pure", { metadata: { name: "100% Pure" }, spec: spec({ provider: "acme", family: "pure-mini" }) }],
      ["abc", { metadata: { name: "abc" }, spec: spec({ provider: "acme", family: "abc" }) }],
      ["omni", { metadata: { name: "Omni Clone", labels: { env: "prod" } }, spec: spec({ provider: "openai", family: "gpt-clone", input: 500, output: 1500, maxIn: 200000, maxOut: 16384 }) }],
      ["disabled", { metadata: { name: "Acme Disabled", labels: { env: "dev" } }, spec: spec({ provider: "acme", family: "acme-old", input: 99, status: ModelStatus.DISABLED }) }],
    ];
    for (const [k, m] of customs) named[k] = idOf(await c.createModel({ model: m }));
    const gone = await c.createModel({ model: { metadata: { name: "Acme Deleted", labels: { env: "prod" } }, spec: spec({ provider: "acme", input: 1 }) } });
    await c.deleteModel({ id: idOf(gone) });
    const catalog = (await listAll(c)).filter((m) => m.metadata!.origin === ModelOrigin.SYSTEM);
    await c.disableModel({ id: idOf(catalog[2]) });
    await c.disableModel({ id: idOf(catalog[7]) });
    all = await listAll(c);
    expect(all.length).toBe(catalog.length + customs.length);
  });

  const num = (v: bigint | number | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const label = (m: Model, k: string) => m.metadata!.labels[k];

  const valid: Array<[string, (m: Model) => boolean]> = [
    ['spec.provider = "openai" AND spec.maxInputTokens >= 128000', (m) => m.spec!.provider === "openai" && (m.spec!.maxInputTokens ?? -1) >= 128000],
    ['labels.env = "prod"', (m) => label(m, "env") === "prod"],
    ['metadata.labels.env = "dev"', (m) => label(m, "env") === "dev"],
    ["spec.status = MODEL_STATUS_ENABLED", (m) => m.spec!.status === ModelStatus.ENABLED],
    ["spec.status = MODEL_STATUS_DISABLED", (m) => m.spec!.status === ModelStatus.DISABLED],
    ["status != MODEL_STATUS_ENABLED", (m) => m.spec!.status !== ModelStatus.ENABLED],
    ['NOT spec.provider = "openai"', (m) => m.spec!.provider !== "openai"],
    ['-labels.env = "prod"', (m) => label(m, "env") !== "prod"],
    ['labels.env != "prod"', (m) => label(m, "env") !== "prod"],
    ['spec.provider = "openai" OR spec.provider = "anthropic"', (m) => ["openai", "anthropic"].includes(m.spec!.provider ?? "")],
    // OR binds tighter than AND: a AND b OR c is a AND (b OR c) ...
    ['spec.provider = "acme" AND labels.env = "prod" OR labels.env = "dev"', (m) => m.spec!.provider === "acme" && ["prod", "dev"].includes(label(m, "env") ?? "")],
    // ... and a OR b AND c is (a OR b) AND c.
    ['labels.env = "dev" OR labels.env = "prod" AND spec.provider = "openai"', (m) => ["prod", "dev"].includes(label(m, "env") ?? "") && m.spec!.provider === "openai"],
    ['(spec.provider = "openai" AND spec.maxInputTokens >= 128000) OR spec.provider = "acme"', (m) => (m.spec!.provider === "openai" && (m.spec!.maxInputTokens ?? -1) >= 128000) || m.spec!.provider === "acme"],
    ['NOT (spec.provider = "acme" OR spec.provider = "openai")', (m) => !["acme", "openai"].includes(m.spec!.provider ?? "")],
    ['spec.provider = "acme" labels.env = "prod"', (m) => m.spec!.provider === "acme" && label(m, "env") === "prod"],
    ["labels:env", (m) => label(m, "env") !== undefined],
    ["metadata.labels:tier", (m) => label(m, "tier") !== undefined],
    ["spec.family:*", (m) => m.spec!.family !== undefined],
    ["NOT spec.inputPricePerMillionTokens:*", (m) => m.spec!.inputPricePerMillionTokens === undefined],
    ["spec.description:*", (m) => m.spec!.description !== undefined],
    ["spec.inputPricePerMillionTokens < 100", (m) => (num(m.spec!.inputPricePerMillionTokens) ?? Infinity) < 100],
    ["spec.inputPricePerMillionTokens >= 300 AND spec.outputPricePerMillionTokens <= 1500", (m) => (num(m.spec!.inputPricePerMillionTokens) ?? -1) >= 300 && (num(m.spec!.outputPricePerMillionTokens) ?? Infinity) <= 1500],
    ["spec.cachedInputPricePerMillionTokens > 0", (m) => (num(m.spec!.cachedInputPricePerMillionTokens) ?? -1) > 0],
    ["spec.maxOutputTokens > 8192", (m) => (m.spec!.maxOutputTokens ?? -1) > 8192],
    ["spec.maxInputTokens <= 8000", (m) => (m.spec!.maxInputTokens ?? Infinity) <= 8000],
    ['spec.provider != "acme"', (m) => m.spec!.provider !== "acme"],
    ["spec.provider = openai", (m) => m.spec!.provider === "openai"],
    ["provider = 'openai'", (m) => m.spec!.provider === "openai"],
    ['name = "Claude*"', (m) => m.metadata!.name.toLowerCase().startsWith("claude")],
    ['spec.family = "*mini*"', (m) => (m.spec!.family ?? "").toLowerCase().includes("mini")],
    ['spec.family > "gpt"', (m) => m.spec!.family !== undefined && m.spec!.family > "gpt"],
    ["spec.capabilities:MODEL_CAPABILITY_VISION", (m) => m.spec!.capabilities.includes(ModelCapability.VISION)],
    ["metadata.origin = MODEL_ORIGIN_WORKSPACE", (m) => m.metadata!.origin === ModelOrigin.WORKSPACE],
  ];

  it.each(valid)("filter %s returns exactly the expected models", async (filter, predicate) => {
    const expected = all.filter(predicate).map(idOf);
    const res = await c.listModels({ filter, limit: 1000 });
    expect(new Set(res.items.map(idOf))).toEqual(new Set(expected));
    expect(res.items).toHaveLength(expected.length);
    expect(res.pagination?.total).toBe(expected.length);
  });

  it("sanity: the expectations above are not trivial", () => {
    const sizes = valid.map(([, p]) => all.filter(p).length);
    expect(sizes.filter((n) => n > 0 && n < all.length).length).toBeGreaterThan(valid.length - 3);
    const precedence = valid.find(([f]) => f.startsWith('labels.env = "dev" OR'))![1];
    expect(all.filter(precedence).map(idOf)).toEqual([named.omni]);
  });

  it("filter over REST returns the same", async () => {
    const filter = 'spec.provider = "acme" AND spec.maxInputTokens >= 4000';
    const res = await rest<{ items: Array<{ metadata: { id: string } }>; pagination: { total: number } }>(token, "GET", `/v1/models${query({ filter, limit: 1000 })}`);
    expect(res.status).toBe(200);
    const expected = all.filter((m) => m.spec!.provider === "acme" && (m.spec!.maxInputTokens ?? -1) >= 4000).map(idOf);
    expect(new Set(res.body.items.map((m) => m.metadata.id))).toEqual(new Set(expected));
    expect(res.body.pagination.total).toBe(expected.length);
  });

  /** [filter, the text at the error's column (undefined: the end of the filter)]. */
  const invalid: Array<[string, string | undefined]> = [
    ['spec.colour = "red"', "spec.colour"],
    ['spec.provider = "openai" AND spec.colour = "x"', "spec.colour"],
    ['spec.maxInputTokens >= "big"', '"big"'],
    ["spec.status = MODEL_STATUS_SLEEPING", "MODEL_STATUS_SLEEPING"],
    ["spec.status > MODEL_STATUS_ENABLED", ">"],
    ['(spec.provider = "x"', undefined],
    ['spec.provider = "x")', ")"],
    ['spec.provider = "unterminated', '"'],
    ['spec.provider ~ "x"', "~"],
    ['AND spec.provider = "x"', "AND"],
    ['spec.provider = "x" OR', undefined],
    ["spec.provider = ", undefined],
    ["metadata.name:*", "*"],
    ["spec.inputPricePerMillionTokens > 1 OR 1=1", "1=1"],
    ['spec.provider = "\\n"', "\\n"],
    ['name = "😀" AND colour = 1', "colour"],
  ];

  it.each(invalid)("invalid filter %s → InvalidArgument on filter at the right column", async (filter, at) => {
    const offset = at === undefined ? filter.length : filter.indexOf(at);
    expect(offset).toBeGreaterThanOrEqual(0);
    const column = Array.from(filter.slice(0, offset)).length + 1; // 1-based, in code points
    const error = await expectConnectError(c.listModels({ filter }), Code.InvalidArgument, "filter");
    const description = violationsOfError(error).find((v) => v.field === "filter")!.description;
    expect(description.match(/column (\d+)/)?.[1], description).toBe(String(column));
  });

  it("an invalid filter over REST: 400 with a field violation on filter naming the column", async () => {
    const res = await rest<StatusJson>(token, "GET", `/v1/models${query({ filter: 'spec.provider = "acme" AND spec.colour = 1' })}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(Code.InvalidArgument);
    const v = res.body.details?.flatMap((d) => d.fieldViolations ?? []).find((x) => x.field === "filter");
    expect(v?.description).toMatch(/column 28\b/);
  });

  it("injection attempts return no rows or the literal match, never an error", async () => {
    const cases: Array<[string, string[]]> = [
      [`name = "x' OR 1=1 --"`, [named.injection!]],
      [`name = 'x\\' OR 1=1 --'`, [named.injection!]],
      [`name = "x' OR '1'='1"`, []],
      [`labels.env = "a\\"b"`, []],
      [`name = "%"`, [named.percent!]],
      [`name = "a_c"`, []],
      [`name = "*%*"`, [named.percent!, named.pure!]],
      [`name = "\\*"`, []],
      [`labels."x') OR 1=1 --" = "y"`, []],
      [`spec.provider = "acme\\" OR 1=1 --"`, []],
      [`name = "x\\"); DROP TABLE models; --"`, []],
      [`spec.family = "Zeta" OR name = "'; DELETE FROM models WHERE '1'='1"`, [named.injection!]],
    ];
    for (const [filter, expected] of cases) {
      const res = await c.listModels({ filter, limit: 1000 });
      expect(new Set(res.items.map(idOf)), filter).toEqual(new Set(expected));
      expect(res.pagination?.total, filter).toBe(expected.length);
    }
    for (const filter of [`'; DROP TABLE models; --`, `name = "x" --`, `name = x' OR 1=1`, `1=1`, `name = "x" UNION SELECT * FROM models`]) {
      const res = await rest<StatusJson | { items: unknown[] }>(token, "GET", `/v1/models${query({ filter })}`);
      if (res.status === 200) expect((res.body as { items: unknown[] }).items, filter).toEqual([]);
      else {
        expect(res.status, filter).toBe(400);
        expect(restFields(res.body as StatusJson)).toContain("filter");
      }
    }
    // Still all there.
    expect((await listAll(c)).length).toBe(all.length);
  });

  /** A model's value of a sort field; undefined when unset. */
  function sortValue(m: Model, field: string): string | number | undefined {
    switch (field) {
      case "metadata.name":
        return m.metadata!.name;
      case "spec.family":
        return m.spec!.family;
      case "spec.provider":
        return m.spec!.provider;
      case "spec.inputPricePerMillionTokens":
        return num(m.spec!.inputPricePerMillionTokens);
      case "spec.outputPricePerMillionTokens":
        return num(m.spec!.outputPricePerMillionTokens);
      case "spec.maxInputTokens":
        return m.spec!.maxInputTokens;
      case "metadata.createdAt":
        return timestampMs(m.metadata!.createdAt!);
      default:
        throw new Error(`no sort value for ${field}`);
    }
  }

  /** <0, 0, >0 as `a` sorts before, with, or after `b`; unset values last in either direction. */
  function compareBy(terms: Array<{ field: string; desc: boolean }>, a: Model, b: Model): number {
    for (const t of terms) {
      const x = sortValue(a, t.field);
      const y = sortValue(b, t.field);
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      const cmp = x < y ? -1 : 1;
      return t.desc ? -cmp : cmp;
    }
    return 0;
  }

  function termsOf(orderBy: string): Array<{ field: string; desc: boolean }> {
    return orderBy.split(",").map((t) => {
      const [field, direction] = t.trim().split(/\s+/);
      return { field: field!, desc: direction === "desc" };
    });
  }

  async function walk(params: ListParams, limit: number): Promise<{ ids: string[]; models: Model[]; totals: Set<number>; pages: number }> {
    const models: Model[] = [];
    const totals = new Set<number>();
    let cursor = "";
    let pages = 0;
    do {
      const page = await c.listModels({ ...params, limit, cursor });
      expect(page.items.length).toBeLessThanOrEqual(limit);
      models.push(...page.items);
      totals.add(page.pagination!.total!);
      cursor = page.pagination!.nextCursor;
      expect(++pages).toBeLessThan(500);
    } while (cursor !== "");
    return { ids: models.map(idOf), models, totals, pages };
  }

  const orders = [
    "spec.inputPricePerMillionTokens desc",
    "spec.maxInputTokens, metadata.name",
    "spec.family desc",
    "metadata.name",
    "spec.inputPricePerMillionTokens asc, spec.provider desc",
    "spec.maxInputTokens desc, spec.family",
  ];

  it.each(orders)("orderBy %s: pages of 7 visit every model exactly once, in order, nulls last", async (orderBy) => {
    const { ids, models, totals, pages } = await walk({ orderBy }, 7);
    expect(pages).toBe(Math.ceil(all.length / 7));
    expect([...totals]).toEqual([all.length]);
    expect(ids).toHaveLength(all.length);
    expect(new Set(ids).size).toBe(all.length);
    expect(new Set(ids)).toEqual(new Set(all.map(idOf)));
    const terms = termsOf(orderBy);
    for (let i = 1; i < models.length; i++) {
      expect(compareBy(terms, models[i - 1]!, models[i]!), `${orderBy}: item ${i - 1} before item ${i}`).toBeLessThanOrEqual(0);
    }
    // The one-page answer is the same sequence.
    expect((await c.listModels({ orderBy, limit: 1000 })).items.map(idOf)).toEqual(ids);
  });

  it("orderBy with a filter, page size 1 (every boundary, nulls included)", async () => {
    const filter = 'spec.provider = "acme"';
    const orderBy = "spec.inputPricePerMillionTokens desc";
    const expected = all.filter((m) => m.spec!.provider === "acme");
    expect(expected.some((m) => m.spec!.inputPricePerMillionTokens === undefined)).toBe(true);
    const { ids, models, totals } = await walk({ filter, orderBy }, 1);
    expect([...totals]).toEqual([expected.length]);
    expect(new Set(ids)).toEqual(new Set(expected.map(idOf)));
    expect(ids).toHaveLength(expected.length);
    for (let i = 1; i < models.length; i++) expect(compareBy(termsOf(orderBy), models[i - 1]!, models[i]!)).toBeLessThanOrEqual(0);
  });

  it("orderBy over REST walks the same sequence", async () => {
    const orderBy = "spec.maxInputTokens, metadata.name";
    const expected = (await walk({ orderBy }, 7)).ids;
    const seen: string[] = [];
    let cursor = "";
    do {
      const res = await rest<{ items: Array<{ metadata: { id: string } }>; pagination: { nextCursor: string; total: number } }>(
        token,
        "GET",
        `/v1/models${query({ orderBy, limit: 7, cursor: cursor || undefined })}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.pagination.total).toBe(all.length);
      seen.push(...res.body.items.map((m) => m.metadata.id));
      cursor = res.body.pagination.nextCursor;
    } while (cursor !== "");
    expect(seen).toEqual(expected);
  });

  it("a cursor of one order is refused under another", async () => {
    const page = await c.listModels({ orderBy: "metadata.name", limit: 7 });
    await expectConnectError(c.listModels({ orderBy: "spec.family desc", limit: 7, cursor: page.pagination!.nextCursor }), Code.InvalidArgument, "cursor");
  });

  it.each([
    ["spec.colour"],
    ["metadata.labels.env"],
    ["spec.family sideways"],
    ["metadata.name, metadata.name"],
    ["spec.description"],
    ["metadata.name,"],
  ])("bad orderBy %s → InvalidArgument on orderBy", async (orderBy) => {
    const error = await expectConnectError(c.listModels({ orderBy }), Code.InvalidArgument, "orderBy");
    expect(violationsOfError(error).find((v) => v.field === "orderBy")!.description).toMatch(/column \d+/);
  });

  it("sortOrder together with orderBy → InvalidArgument", async () => {
    await expectConnectError(c.listModels({ orderBy: "metadata.name", sortOrder: "desc" }), Code.InvalidArgument, "sortOrder");
    const res = await rest<StatusJson>(token, "GET", `/v1/models${query({ orderBy: "metadata.name", sortOrder: "asc" })}`);
    expect(res.status).toBe(400);
    expect(restFields(res.body)).toContain("sortOrder");
  });

  function facetCounts(res: ListModelsResponse, field: string): Map<string, number> {
    const facet = res.facets.find((f) => f.field === field);
    expect(facet, `facet ${field}`).toBeDefined();
    const counts = facet!.values.map((v) => v.count);
    expect(counts, "most frequent first").toEqual([...counts].sort((a, b) => b - a));
    return new Map(facet!.values.map((v) => [v.value, v.count]));
  }

  function tally(models: Model[], key: (m: Model) => string): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of models) out.set(key(m), (out.get(key(m)) ?? 0) + 1);
    return out;
  }

  it("includeFacets: counts per spec.provider and spec.status that sum to total, over every page", async () => {
    const res = await c.listModels({ includeFacets: true, limit: 5 });
    expect(res.items).toHaveLength(5);
    const total = res.pagination!.total!;
    expect(total).toBe(all.length);
    const providers = facetCounts(res, "spec.provider");
    const statuses = facetCounts(res, "spec.status");
    expect([...providers.values()].reduce((a, b) => a + b, 0)).toBe(total);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(total);
    expect(providers).toEqual(tally(all, (m) => m.spec!.provider!));
    expect(statuses).toEqual(tally(all, (m) => `MODEL_STATUS_${ModelStatus[m.spec!.status!]}`));
    expect(statuses.get("MODEL_STATUS_DISABLED")).toBe(all.filter((m) => m.spec!.status === ModelStatus.DISABLED).length);
    expect(statuses.get("MODEL_STATUS_ENABLED")).toBe(all.filter((m) => m.spec!.status === ModelStatus.ENABLED).length);
    // Without includeFacets, none.
    expect((await c.listModels({ limit: 1 })).facets).toEqual([]);
  });

  it("facets follow the filter and query, and REST returns them too", async () => {
    const filter = 'labels:env OR spec.provider = "openai"';
    const matching = all.filter((m) => label(m, "env") !== undefined || m.spec!.provider === "openai");
    const res = await c.listModels({ filter, includeFacets: true, limit: 1 });
    expect(res.pagination?.total).toBe(matching.length);
    expect(facetCounts(res, "spec.provider")).toEqual(tally(matching, (m) => m.spec!.provider!));
    const disabled = matching.filter((m) => m.spec!.status === ModelStatus.DISABLED).length;
    expect(facetCounts(res, "spec.status").get("MODEL_STATUS_DISABLED") ?? 0).toBe(disabled);
    const viaRest = await rest<{ facets: Array<{ field: string; values: Array<{ value: string; count: number }> }>; pagination: { total: number } }>(
      token,
      "GET",
      `/v1/models${query({ query: "acme", includeFacets: true, limit: 1 })}`,
    );
    expect(viaRest.status).toBe(200);
    const provider = viaRest.body.facets.find((f) => f.field === "spec.provider")!;
    expect(provider.values.reduce((a, v) => a + v.count, 0)).toBe(viaRest.body.pagination.total);
    expect(viaRest.body.facets.map((f) => f.field).sort()).toEqual(["spec.provider", "spec.status"]);
  });
});

// ---------------------------------------------------------------------------
// RefreshCatalog

describe("RefreshCatalog", () => {
  it("is admin-only: PermissionDenied without models:admin (Connect and REST)", async () => {
    const ws = "ws_refresh";
    const { c, token } = await workspace(ws, "models:read models:create models:update models:delete");
    await expectConnectError(c.refreshCatalog({}), Code.PermissionDenied);
    const res = await rest<StatusJson>(token, "POST", "/v1/system/models:refresh", {});
    expect(res.status).toBe(403);
    expect(res.body.code).toBe(Code.PermissionDenied);
  });

  it("an unchanged catalog file: nothing added, changed or copied; workspaces keep their models", async () => {
    const ws = "ws_refresh_admin";
    const { c, token } = await workspace(ws);
    const before = await listAll(c);
    const res = await c.refreshCatalog({});
    expect([res.addedCount, res.changedCount, res.copiesCreatedCount]).toEqual([0, 0, 0]);
    const viaRest = await rest<{ addedCount?: number; changedCount?: number; copiesCreatedCount?: number }>(token, "POST", "/v1/system/models:refresh", {});
    expect(viaRest.status).toBe(200);
    expect([viaRest.body.addedCount ?? 0, viaRest.body.changedCount ?? 0, viaRest.body.copiesCreatedCount ?? 0]).toEqual([0, 0, 0]);
    expect(await listAll(c)).toEqual(before);
  });
});

import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import { BundleAction, type ModelDraft } from "../gen/modelservice/v1/model_service_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Every write method needs the scope of every change it makes, not only the
 * required_scope of the method (issue 14, item 4): over Connect and REST,
 * each write is tried with a token that lacks one of the scopes it needs —
 * PermissionDenied naming that scope, and nothing written — and with exactly
 * the scopes it needs, which succeeds.
 */

let service: TestService;
const ws = "ws_write_authz";
let full: ModelClient;

beforeAll(async () => {
  service = await startTestService();
  full = modelClient(service.url, await service.token(ws));
  await full.listModels({ limit: 1 });
});
afterAll(() => service.dispose());

let counter = 0;
function unique(label: string): string {
  return `${label}-${++counter}-${Math.random().toString(36).slice(2, 7)}`;
}

const modelUrl = "https://llm.example.com/v1/chat";

function body(name: string, o: { externalId?: string; bundleKey?: string; description?: string } = {}) {
  return {
    metadata: { name, ...(o.externalId ? { externalId: o.externalId } : {}), ...(o.bundleKey ? { bundleKey: o.bundleKey } : {}) },
    spec: { provider: "acme", family: "acme-1", modelUrl, ...(o.description ? { description: o.description } : {}) },
  };
}

async function tokenWith(scopes: readonly string[]): Promise<string> {
  return service.token(ws, { scope: ["models:read", ...scopes].join(" ") });
}

/** The workspace's models (deleted ones too) and the author's drafts, as a comparable value. */
async function snapshot(): Promise<unknown> {
  const models = await full.listModels({ limit: 1000, showDeleted: true });
  const drafts = await full.listModelDrafts({});
  return {
    models: models.items.map((m) => [m.metadata!.id, m.metadata!.etag, m.metadata!.deleteTime !== undefined]).sort(),
    total: models.pagination!.total,
    drafts: drafts.items.map((d) => [d.id, d.version]).sort(),
  };
}

interface RestCall {
  method: string;
  path: string;
  body?: unknown;
  csv?: string;
}

async function rest(token: string, call: RestCall): Promise<{ status: number; body: { code?: number; message?: string } }> {
  const res = await fetch(service.url + call.path, {
    method: call.method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(call.csv !== undefined ? { "content-type": "text/csv" } : call.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: call.csv ?? (call.body !== undefined ? JSON.stringify(call.body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as { code?: number; message?: string }) };
}

interface Fixture {
  model: Model;
  deleted: Model;
  draft: ModelDraft;
  baseDraft: ModelDraft;
  bundleKey: string;
  externalId: string;
  systemId: string;
}

async function fixture(): Promise<Fixture> {
  const model = await full.createModel({ model: body(unique("Target"), { description: "before" }) });
  const gone = await full.createModel({ model: body(unique("Deleted")) });
  const deleted = await full.deleteModel({ id: gone.metadata!.id });
  const draft = await full.createModelDraft({ model: body(unique("Draft")) });
  const baseDraft = await full.createModelDraft({ modelId: model.metadata!.id, model: { metadata: { name: unique("Draft of target") } } });
  const bundleKey = unique("bundle");
  await full.applyBundle({
    bundleKey,
    models: [body(unique("Kept"), { externalId: `${bundleKey}-kept` }), body(unique("Dropped"), { externalId: `${bundleKey}-dropped` })],
  });
  const externalId = unique("ext");
  await full.createModel({ model: body(unique("Imported"), { externalId, description: "old" }) });
  const admin = modelClient(service.url, await tokenWith(["models:admin"]));
  const system = await admin.createSystemModel({ model: { metadata: { name: unique("System") }, spec: { provider: "acme", family: unique("sys") } } });
  return { model, deleted, draft, baseDraft, bundleKey, externalId, systemId: system.metadata!.id };
}

interface WriteCase {
  name: string;
  /** Every scope the call needs (besides models:read). */
  needs: string[];
  connect: (c: ModelClient, f: Fixture) => Promise<unknown>;
  rest: (f: Fixture) => RestCall;
}

/** A bundle list that updates the kept model, creates a new one and (by leaving it out) deletes the dropped one. */
function bundleModels(f: Fixture) {
  return [body("Kept, renamed", { externalId: `${f.bundleKey}-kept` }), body("New in bundle", { externalId: `${f.bundleKey}-new` })];
}

/** A CSV that updates the model with the fixture's external id (row 2) and creates another (row 3). */
function importCsv(f: Fixture): string {
  return `name,externalId,provider,description\r\nImported,${f.externalId},acme,new\r\nFresh import,,acme,fresh\r\n`;
}

const cases: WriteCase[] = [
  {
    name: "CreateModel",
    needs: ["models:create"],
    connect: (c) => c.createModel({ model: body(unique("Created")) }),
    rest: () => ({ method: "POST", path: "/v1/models", body: body(unique("Created")) }),
  },
  {
    name: "UpdateModel",
    needs: ["models:update"],
    connect: (c, f) => c.updateModel({ id: f.model.metadata!.id, model: { metadata: { name: "Renamed" } }, updateMask: { paths: ["metadata.name"] } }),
    rest: (f) => ({ method: "PATCH", path: `/v1/models/${f.model.metadata!.id}?updateMask=metadata.name`, body: { metadata: { name: "Renamed" } } }),
  },
  {
    name: "SetModelStatus",
    needs: ["models:update"],
    connect: (c, f) => c.setModelStatus({ id: f.model.metadata!.id, status: ModelStatus.DISABLED }),
    rest: (f) => ({ method: "PUT", path: `/v1/models/${f.model.metadata!.id}/status`, body: { status: "MODEL_STATUS_DISABLED" } }),
  },
  {
    name: "DisableModel",
    needs: ["models:update"],
    connect: (c, f) => c.disableModel({ id: f.model.metadata!.id }),
    rest: (f) => ({ method: "POST", path: `/v1/models/${f.model.metadata!.id}:disable`, body: {} }),
  },
  {
    name: "RotateModelCredentials",
    needs: ["models:update"],
    connect: (c, f) => c.rotateModelCredentials({ id: f.model.metadata!.id, credentials: { token: "sk-rotated-0123456789" } }),
    rest: (f) => ({ method: "POST", path: `/v1/models/${f.model.metadata!.id}:rotateCredentials`, body: { credentials: { token: "sk-rotated-0123456789" } } }),
  },
  {
    name: "DeleteModel",
    needs: ["models:delete"],
    connect: (c, f) => c.deleteModel({ id: f.model.metadata!.id }),
    rest: (f) => ({ method: "DELETE", path: `/v1/models/${f.model.metadata!.id}` }),
  },
  {
    name: "UndeleteModel",
    needs: ["models:delete"],
    connect: (c, f) => c.undeleteModel({ id: f.deleted.metadata!.id }),
    rest: (f) => ({ method: "POST", path: `/v1/models/${f.deleted.metadata!.id}:undelete`, body: {} }),
  },
  {
    name: "DuplicateModel",
    needs: ["models:create"],
    connect: (c, f) => c.duplicateModel({ id: f.model.metadata!.id }),
    rest: (f) => ({ method: "POST", path: `/v1/models/${f.model.metadata!.id}:duplicate`, body: {} }),
  },
  {
    name: "BatchCreateModels",
    needs: ["models:create"],
    connect: (c) => c.batchCreateModels({ requests: [{ model: body(unique("Batch")) }], allowPartial: true }),
    rest: () => ({ method: "POST", path: "/v1/models:batchCreate", body: { requests: [{ model: body(unique("Batch")) }] } }),
  },
  {
    name: "BatchUpdateModels",
    needs: ["models:update"],
    connect: (c, f) => c.batchUpdateModels({ requests: [{ id: f.model.metadata!.id, model: { metadata: { name: "Batch renamed" } } }] }),
    rest: (f) => ({
      method: "POST",
      path: "/v1/models:batchUpdate",
      body: { requests: [{ id: f.model.metadata!.id, model: { metadata: { name: "Batch renamed" } } }], allowPartial: true },
    }),
  },
  {
    name: "BatchDeleteModels",
    needs: ["models:delete"],
    connect: (c, f) => c.batchDeleteModels({ ids: [f.model.metadata!.id] }),
    rest: (f) => ({ method: "POST", path: "/v1/models:batchDelete", body: { ids: [f.model.metadata!.id], allowPartial: true } }),
  },
  {
    name: "ApplyBundle (creates, updates and deletes)",
    needs: ["models:update", "models:create", "models:delete"],
    connect: (c, f) => c.applyBundle({ bundleKey: f.bundleKey, models: bundleModels(f) }),
    rest: (f) => ({ method: "POST", path: `/v1/bundles/${f.bundleKey}:apply`, body: { models: bundleModels(f) } }),
  },
  {
    name: "ApplyBundle dry run",
    needs: ["models:update", "models:create", "models:delete"],
    connect: (c, f) => c.applyBundle({ bundleKey: f.bundleKey, models: bundleModels(f), dryRun: true }),
    rest: (f) => ({ method: "POST", path: `/v1/bundles/${f.bundleKey}:apply`, body: { models: bundleModels(f), dryRun: true } }),
  },
  {
    name: "CreateModelDraft",
    needs: ["models:create"],
    connect: (c) => c.createModelDraft({ model: { metadata: { name: "A draft" } } }),
    rest: () => ({ method: "POST", path: "/v1/drafts", body: { model: { metadata: { name: "A draft" } } } }),
  },
  {
    name: "UpdateModelDraft",
    needs: ["models:create"],
    connect: (c, f) => c.updateModelDraft({ id: f.draft.id, expectedVersion: 1, model: { metadata: { name: "Draft renamed" } } }),
    rest: (f) => ({ method: "PATCH", path: `/v1/drafts/${f.draft.id}`, body: { expectedVersion: 1, model: { metadata: { name: "Draft renamed" } } } }),
  },
  {
    name: "PublishModelDraft (a new model)",
    needs: ["models:create"],
    connect: (c, f) => c.publishModelDraft({ id: f.draft.id }),
    rest: (f) => ({ method: "POST", path: `/v1/drafts/${f.draft.id}:publish`, body: {} }),
  },
  {
    name: "PublishModelDraft (of an existing model)",
    needs: ["models:create", "models:update"],
    connect: (c, f) => c.publishModelDraft({ id: f.baseDraft.id }),
    rest: (f) => ({ method: "POST", path: `/v1/drafts/${f.baseDraft.id}:publish`, body: {} }),
  },
  {
    name: "DeleteModelDraft",
    needs: ["models:create"],
    connect: (c, f) => c.deleteModelDraft({ id: f.draft.id }),
    rest: (f) => ({ method: "DELETE", path: `/v1/drafts/${f.draft.id}` }),
  },
  {
    name: "CreateSystemModel",
    needs: ["models:admin"],
    connect: (c) => c.createSystemModel({ model: { metadata: { name: "Sys" }, spec: { provider: "acme", family: "sys-new" } } }),
    rest: () => ({ method: "POST", path: "/v1/system/models", body: { metadata: { name: "Sys" }, spec: { provider: "acme", family: "sys-new" } } }),
  },
  {
    name: "UpdateSystemModel",
    needs: ["models:admin"],
    connect: (c, f) => c.updateSystemModel({ id: f.systemId, model: { spec: { description: "changed" } }, updateMask: { paths: ["spec.description"] } }),
    rest: (f) => ({ method: "PATCH", path: `/v1/system/models/${f.systemId}?updateMask=spec.description`, body: { spec: { description: "changed" } } }),
  },
  {
    name: "DeleteSystemModel",
    needs: ["models:admin"],
    connect: (c, f) => c.deleteSystemModel({ id: f.systemId }),
    rest: (f) => ({ method: "DELETE", path: `/v1/system/models/${f.systemId}` }),
  },
];

describe("every write needs the scope of every change it makes", () => {
  it.each(cases)("$name: without one of its scopes PermissionDenied names it and nothing is written; with them it succeeds", async (c) => {
    const f = await fixture();
    const before = await snapshot();
    for (const missing of c.needs) {
      const token = await tokenWith(c.needs.filter((s) => s !== missing));
      const error = await c.connect(modelClient(service.url, token), f).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code, `${c.name} over Connect without ${missing}`).toBe(Code.PermissionDenied);
      expect(error?.rawMessage).toContain(missing);
      const res = await rest(token, c.rest(f));
      expect(res.status, `${c.name} over REST without ${missing}: ${JSON.stringify(res.body)}`).toBe(403);
      expect(res.body.code).toBe(Code.PermissionDenied);
      expect(res.body.message).toContain(missing);
      expect(await snapshot(), `${c.name} without ${missing} wrote something`).toEqual(before);
    }
    await c.connect(modelClient(service.url, await tokenWith(c.needs)), f);
  });
});

describe("ImportModels", () => {
  it("a row that would create a model needs models:create: refused on its own, over Connect and REST; updates still go through", async () => {
    const updater = await tokenWith(["models:update"]);
    for (const protocol of ["connect", "rest"] as const) {
      for (const dryRun of [true, false]) {
        const f = await fixture();
        const csv = importCsv(f);
        const result =
          protocol === "connect"
            ? await modelClient(service.url, updater).importModels({ csv: { contentType: "text/csv", data: new TextEncoder().encode(csv) }, dryRun })
            : ((await rest(updater, { method: "POST", path: `/v1/models:import${dryRun ? "?dryRun=true" : ""}`, csv })).body as {
                createdCount?: number;
                updatedCount?: number;
                errors?: Array<{ row: number; reason: string }>;
              });
        expect(result.createdCount ?? 0, `${protocol} dryRun=${dryRun}`).toBe(0);
        expect(result.updatedCount).toBe(1);
        expect(result.errors).toEqual([expect.objectContaining({ row: 3, reason: expect.stringContaining('"models:create"') })]);
        const fresh = await full.listModels({ prefix: "Fresh import" });
        expect(fresh.pagination!.total).toBe(0);
      }
    }
    // models:create without models:update cannot call ImportModels at all.
    const creator = await tokenWith(["models:create"]);
    const f = await fixture();
    const res = await rest(creator, { method: "POST", path: "/v1/models:import", csv: importCsv(f) });
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('"models:update"');
    // With both, every row is written.
    const both = await modelClient(service.url, await tokenWith(["models:create", "models:update"])).importModels({
      csv: { contentType: "text/csv", data: new TextEncoder().encode(importCsv(f)) },
    });
    expect([both.createdCount, both.updatedCount, both.errors]).toEqual([1, 1, []]);
  });
});

describe("ApplyBundle, the attack of issue 14", () => {
  it("models:update alone cannot create through a bundle, dry run or not", async () => {
    const updater = modelClient(service.url, await tokenWith(["models:update"]));
    const bundleKey = unique("takeover");
    for (const dryRun of [true, false]) {
      const error = await updater.applyBundle({ bundleKey, models: [body("Smuggled", { externalId: "smuggled" })], dryRun }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.PermissionDenied);
      expect(error?.rawMessage).toContain('"models:create"');
    }
    expect((await full.listModels({ bundleKey, showDeleted: true })).pagination!.total).toBe(0);
  });

  it("models:update alone cannot delete a model by giving it a bundle key and applying an empty bundle", async () => {
    const victim = await full.createModel({ model: body(unique("Victim"), { externalId: unique("victim") }) });
    const updater = await tokenWith(["models:update"]);
    const bundleKey = unique("evil");
    // Setting the bundle key is an update, which the token may do.
    await modelClient(service.url, updater).updateModel({
      id: victim.metadata!.id,
      model: { metadata: { bundleKey } },
      updateMask: { paths: ["metadata.bundle_key"] },
    });
    for (const dryRun of [true, false]) {
      const res = await rest(updater, { method: "POST", path: `/v1/bundles/${bundleKey}:apply`, body: { models: [], dryRun } });
      expect(res.status, JSON.stringify(res.body)).toBe(403);
      expect(res.body.message).toContain('"models:delete"');
    }
    expect((await full.getModel({ id: victim.metadata!.id })).metadata!.deleteTime).toBeUndefined();
    // The same apply with models:delete does delete it: the check is about the scope, not the plan.
    const deleter = modelClient(service.url, await tokenWith(["models:update", "models:delete"]));
    const applied = await deleter.applyBundle({ bundleKey, models: [] });
    expect(applied.plan.map((s) => s.action)).toEqual([BundleAction.DELETE]);
    expect((await full.getModel({ id: victim.metadata!.id })).metadata!.deleteTime).toBeDefined();
  });

  it("a bundle that only updates needs models:update alone", async () => {
    const bundleKey = unique("updates-only");
    await full.applyBundle({ bundleKey, models: [body("One", { externalId: `${bundleKey}-1` })] });
    const updater = modelClient(service.url, await tokenWith(["models:update"]));
    const res = await updater.applyBundle({ bundleKey, models: [body("One, renamed", { externalId: `${bundleKey}-1` })] });
    expect([res.createdCount, res.updatedCount, res.deletedCount]).toEqual([0, 1, 0]);
  });
});

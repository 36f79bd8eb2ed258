import { findProvider } from "@pydantic/genai-prices";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import { WatchEventType, type WatchModelsResponse } from "../gen/modelservice/v1/model_service_pb.js";
import { LifecycleStage } from "../gen/modelservice/v1/pricing_pb.js";
import { defaultCatalogProviders } from "../src/config.js";
import { catalogCopyId } from "../src/storage/catalog-copy-id.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #17 item 4: a model gone from the catalog data is retired, never
 * deleted: hidden from workspaces made later, and DISABLED in the workspaces
 * that have it, whether their copy is a row or virtual, with a revision and a
 * change event each; a copy the workspace disabled itself keeps its state.
 * Back in the data, it returns everywhere.
 */
const removedId = "gpt-4.1-nano";
const dir = mkdtempSync(join(tmpdir(), "catalog-retirement-"));
let s: TestService;
let admin: ModelClient;
const streams: AbortController[] = [];

beforeAll(async () => {
  s = await startTestService();
  admin = modelClient(s.url, await s.token("ws_retire_admin"));
});
afterAll(async () => {
  for (const c of streams) c.abort();
  await s.dispose();
});

/** The bundled data without the removed model, as a data file. */
function dataWithout(): string {
  const providers = defaultCatalogProviders.map((id) => structuredClone(findProvider({ providerId: id })!));
  const openai = providers.find((p) => p.id === "openai")!;
  expect(openai.models.some((m) => m.id === removedId)).toBe(true);
  openai.models = openai.models.filter((m) => m.id !== removedId);
  const path = join(dir, "without.json");
  writeFileSync(path, JSON.stringify(providers));
  return path;
}

/** Every event of a workspace's watch, as the stream sends it. */
function watch(c: ModelClient): WatchModelsResponse[] {
  const events: WatchModelsResponse[] = [];
  const abort = new AbortController();
  streams.push(abort);
  void (async () => {
    try {
      for await (const e of c.watchModels({}, { signal: abort.signal })) events.push(e);
    } catch {
      // Aborted at the end of the file.
    }
  })();
  return events;
}

async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

async function listed(c: ModelClient): Promise<Model[]> {
  return (await c.listModels({ limit: 1000, filter: `spec.family = "${removedId}"` })).items;
}

async function revisionChanges(c: ModelClient, id: string): Promise<Array<Record<string, string | undefined>>> {
  const res = await c.listModelRevisions({ id, limit: 50 });
  expect(res.pagination?.total).toBe(res.items.length);
  return res.items.map((r) => Object.fromEntries(r.changes.map((ch) => [ch.field, ch.newValue])));
}

describe("a model gone from the catalog data", () => {
  let system: Model;
  let rowCopy: string;
  let virtualCopy: string;
  let ownDisabled: string;
  let rowClient: ModelClient;
  let virtualClient: ModelClient;
  let ownClient: ModelClient;
  let lateClient: ModelClient;

  beforeAll(async () => {
    system = (await admin.listSystemModels({ limit: 1000 })).items.find((m) => m.spec?.family === removedId)!;
    expect(system).toBeDefined();
    [rowClient, virtualClient, ownClient] = await Promise.all(["ws_retire_row", "ws_retire_virtual", "ws_retire_own"].map(async (ws) => modelClient(s.url, await s.token(ws))));
    rowCopy = catalogCopyId("ws_retire_row", system.metadata!.id);
    virtualCopy = catalogCopyId("ws_retire_virtual", system.metadata!.id);
    ownDisabled = catalogCopyId("ws_retire_own", system.metadata!.id);
    // A workspace that exists before the retirement and writes to its copy only after it.
    lateClient = modelClient(s.url, await s.token("ws_retire_late"));
    await lateClient.listModels({ limit: 1 });
    // A label makes the copy a row; the other workspace's stays virtual; the third disables its own.
    await rowClient.updateModel({ id: rowCopy, model: { metadata: { labels: { team: "search" } } }, updateMask: { paths: ["metadata.labels"] } });
    await ownClient.disableModel({ id: ownDisabled });
    expect((await virtualClient.listModelRevisions({ id: virtualCopy })).items).toHaveLength(0);
  });

  it("is DISABLED in the workspaces that have it, rows and virtual copies alike, with a revision and a change event each", async () => {
    const rowEvents = watch(rowClient);
    const virtualEvents = watch(virtualClient);
    // The watches have started once a change made after them arrives.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const res = await admin.refreshCatalog({ source: dataWithout() });
    expect(res.removed).toEqual([`openai/${removedId}`]);

    for (const [c, id] of [
      [rowClient, rowCopy],
      [virtualClient, virtualCopy],
    ] as const) {
      const got = await c.getModel({ id });
      expect(got.spec?.status, id).toBe(ModelStatus.DISABLED);
      expect(got.spec?.lifecycle?.stage).toBe(LifecycleStage.RETIRED);
      expect(got.spec?.disabledReason).toMatch(/^retired: gone from the catalog data/);
      // Still listed in the workspaces that had it, as disabled.
      expect((await listed(c)).map((m) => [m.metadata?.id, m.spec?.status])).toEqual([[id, ModelStatus.DISABLED]]);
      expect((await c.listModels({ limit: 1000, filter: `spec.family = "${removedId}" AND spec.status = MODEL_STATUS_ENABLED` })).items).toHaveLength(0);
      const newest = (await revisionChanges(c, id))[0]!;
      expect(newest["spec.status"]).toBe('"MODEL_STATUS_DISABLED"');
      expect(newest["spec.lifecycle"]).toContain("LIFECYCLE_STAGE_RETIRED");
    }
    expect((await rowClient.getModel({ id: rowCopy })).metadata?.labels).toEqual({ team: "search" });
    // The row's own revisions: the label, then the retirement; the virtual copy's: the retirement, derived from the catalog's.
    expect((await revisionChanges(rowClient, rowCopy)).map((r) => Object.keys(r).sort())).toEqual([
      ["spec.lifecycle", "spec.status"],
      ["metadata.labels"],
    ]);
    expect((await revisionChanges(virtualClient, virtualCopy)).map((r) => Object.keys(r).sort())).toEqual([["spec.disabled_reason", "spec.lifecycle", "spec.status"]]);

    const disabledEvent = (events: WatchModelsResponse[], id: string) => () =>
      events.some((e) => e.type === WatchEventType.MODIFIED && e.model?.metadata?.id === id && e.model.spec?.status === ModelStatus.DISABLED);
    await eventually(disabledEvent(rowEvents, rowCopy));
    await eventually(disabledEvent(virtualEvents, virtualCopy));
    expect(virtualEvents.filter((e) => e.type === WatchEventType.MODIFIED).map((e) => e.model?.metadata?.id)).toEqual([virtualCopy]);
    expect(virtualEvents.filter((e) => e.type === WatchEventType.DELETED)).toHaveLength(0);
    expect(rowEvents.filter((e) => e.type === WatchEventType.DELETED)).toHaveLength(0);

    // The copy its workspace disabled keeps its state and gains no revision.
    const own = await ownClient.getModel({ id: ownDisabled });
    expect([own.spec?.status, own.spec?.lifecycle?.stage]).toEqual([ModelStatus.DISABLED, LifecycleStage.RETIRED]);
    expect((await ownClient.listModelRevisions({ id: ownDisabled })).items).toHaveLength(1);

    // A workspace made after the retirement never has it, not even by its id.
    const fresh = modelClient(s.url, await s.token("ws_retire_fresh"));
    expect(await listed(fresh)).toHaveLength(0);
    await expect(fresh.getModel({ id: catalogCopyId("ws_retire_fresh", system.metadata!.id) })).rejects.toThrow(/not found/i);
  });

  it("back in the data, it returns: enabled where the retirement disabled it, in workspaces made meanwhile too; a workspace's own disable stays", async () => {
    // Labelled while retired, the copy becomes a row as it reads: disabled, by the retirement only.
    const lateCopy = catalogCopyId("ws_retire_late", system.metadata!.id);
    await lateClient.updateModel({ id: lateCopy, model: { metadata: { labels: { seen: "retired" } } }, updateMask: { paths: ["metadata.labels"] } });
    expect((await lateClient.getModel({ id: lateCopy })).spec?.status).toBe(ModelStatus.DISABLED);
    const virtualEvents = watch(virtualClient);
    const fresh = modelClient(s.url, await s.token("ws_retire_fresh"));
    const freshEvents = watch(fresh);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const res = await admin.refreshCatalog({});
    expect(res.changed.map((c) => c.catalogId)).toContain(`openai/${removedId}`);

    for (const [c, id] of [
      [rowClient, rowCopy],
      [virtualClient, virtualCopy],
      [lateClient, lateCopy],
    ] as const) {
      const got = await c.getModel({ id });
      expect([got.spec?.status, got.spec?.disabledReason], id).toEqual([ModelStatus.ENABLED, undefined]);
      expect(got.spec?.lifecycle?.stage).not.toBe(LifecycleStage.RETIRED);
      const newest = (await revisionChanges(c, id))[0]!;
      expect(newest["spec.status"]).toBe('"MODEL_STATUS_ENABLED"');
    }
    expect((await revisionChanges(virtualClient, virtualCopy)).length).toBe(2);
    expect((await ownClient.getModel({ id: ownDisabled })).spec?.status).toBe(ModelStatus.DISABLED);
    const freshCopy = catalogCopyId("ws_retire_fresh", system.metadata!.id);
    expect((await listed(fresh)).map((m) => [m.metadata?.id, m.spec?.status])).toEqual([[freshCopy, ModelStatus.ENABLED]]);
    // The workspace made meanwhile did not exist at the retirement: it shows no revision of it.
    expect((await fresh.listModelRevisions({ id: freshCopy })).items).toHaveLength(0);

    await eventually(() => virtualEvents.some((e) => e.type === WatchEventType.MODIFIED && e.model?.spec?.status === ModelStatus.ENABLED));
    await eventually(() => freshEvents.some((e) => e.type === WatchEventType.ADDED && e.model?.metadata?.id === freshCopy));
  });
});

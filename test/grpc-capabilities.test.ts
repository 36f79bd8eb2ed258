import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleAction } from "../gen/modelservice/v1/model_service_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/** The capabilities of the bulk/search issue once more over gRPC (the other files drive them over Connect and REST). */
let service: TestService;
let grpc: ModelClient;

beforeAll(async () => {
  service = await startTestService();
  grpc = modelClient(service.url, await service.token("ws_grpc_caps"), "grpc");
});
afterAll(() => service.dispose());

describe("over gRPC", () => {
  it("applies a bundle, then re-applies it as a no-op", async () => {
    const models = ["one", "two"].map((x) => ({ metadata: { name: `Bundled ${x}`, externalId: `grpc-${x}` }, spec: { provider: "acme" } }));
    const first = await grpc.applyBundle({ bundleKey: "grpc-core", models });
    expect([first.createdCount, first.unchangedCount]).toEqual([2, 0]);
    const again = await grpc.applyBundle({ bundleKey: "grpc-core", models });
    expect([again.createdCount, again.updatedCount, again.deletedCount, again.unchangedCount]).toEqual([0, 0, 0, 2]);
    expect(again.plan.every((p) => p.action === BundleAction.UNCHANGED)).toBe(true);
  });

  it("searches with a filter, an order and facets", async () => {
    const res = await grpc.listModels({
      filter: 'spec.provider = "anthropic" OR spec.provider = "openai"',
      orderBy: "spec.inputPricePerMillionTokens desc",
      includeFacets: true,
      limit: 1000,
    });
    const prices = res.items.map((m) => Number(m.spec?.inputPricePerMillionTokens ?? -1));
    expect(prices).toEqual([...prices].sort((a, b) => b - a));
    expect(new Set(res.items.map((m) => m.spec?.provider))).toEqual(new Set(["anthropic", "openai"]));
    const providers = res.facets.find((f) => f.field === "spec.provider")!;
    expect(providers.values.reduce((n, v) => n + v.count, 0)).toBe(res.pagination?.total);
    const ranked = await grpc.listModels({ query: "clau" });
    expect(ranked.items.length).toBeGreaterThan(0);
    expect(ranked.items.every((m) => `${m.metadata?.name} ${m.spec?.family}`.toLowerCase().includes("clau"))).toBe(true);
  });

  it("drafts a model and publishes it", async () => {
    const draft = await grpc.createModelDraft({ model: { metadata: { name: "Drafted over gRPC" } } });
    const updated = await grpc.updateModelDraft({ id: draft.id, expectedVersion: 1, model: { metadata: { name: "Drafted, renamed" } }, updateMask: { paths: ["metadata.name"] } });
    expect(updated.version).toBe(2);
    const model = await grpc.publishModelDraft({ id: draft.id });
    expect(model.metadata?.name).toBe("Drafted, renamed");
    expect((await grpc.listModelDrafts({})).items).toEqual([]);
  });

  it("exports as a stream of CSV chunks and imports the CSV into another workspace", async () => {
    await grpc.createModel({ model: { metadata: { name: "Exported, \"quoted\"", externalId: "grpc-export" }, spec: { provider: "acme", inputPricePerMillionTokensUsd: "0.075" } } });
    const chunks: Uint8Array[] = [];
    for await (const body of grpc.exportModels({})) {
      expect(body.contentType).toMatch(/^text\/csv/);
      chunks.push(body.data);
    }
    const csv = Buffer.concat(chunks);
    expect(csv.toString()).toContain('"Exported, ""quoted"""');
    const other = modelClient(service.url, await service.token("ws_grpc_import"), "grpc");
    const before = (await other.listModels({})).pagination?.total;
    const imported = await other.importModels({ csv: { contentType: "text/csv", data: csv } });
    expect(imported.errors).toEqual([]);
    expect(imported.createdCount).toBeGreaterThanOrEqual(1);
    const after = await other.listModels({ query: "grpc-export" });
    expect(after.items.map((m) => m.spec?.inputPricePerMillionTokensUsd)).toEqual(["0.075"]);
    expect((await other.listModels({})).pagination?.total).toBe((before ?? 0) + imported.createdCount);
  });

  it("batch-creates and refreshes the catalog", async () => {
    const batch = await grpc.batchCreateModels({ requests: [{ model: { metadata: { name: "Batch one" } } }, { model: { metadata: { name: "Batch two" } } }] });
    expect(batch.models.map((m) => m.metadata?.name)).toEqual(["Batch one", "Batch two"]);
    const refreshed = await grpc.refreshCatalog({});
    expect([refreshed.addedCount, refreshed.changedCount]).toEqual([0, 0]);
  });
});

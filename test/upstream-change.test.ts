import { fromJson, toJson, type JsonObject } from "@bufbuild/protobuf";
import { findProvider } from "@pydantic/genai-prices";
import Big from "big.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelSchema, ModelSpecSchema, type Model } from "../gen/modelservice/v1/model_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #17 item 5: a catalog refresh that changes a price under a
 * workspace's override flags the copy (spec.upstreamChanged) with the diff,
 * leaves copies without an override silent, and keeps the override applied to
 * the new catalog price.
 */

let service: TestService;
let client: ModelClient;
let admin: ModelClient;
let dir: string;
const provider = "deepseek";

beforeAll(async () => {
  service = await startTestService({ MODELSERVICE_CATALOG_PROVIDERS: provider });
  client = modelClient(service.url, await service.token("ws_upstream"));
  admin = modelClient(service.url, await service.token("ws_upstream", { scope: "models:read models:update models:admin" }));
  dir = mkdtempSync(join(tmpdir(), "upstream-"));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await service.dispose();
});

function spec(model: Model): JsonObject {
  return toJson(ModelSpecSchema, model.spec!) as JsonObject;
}

/** The package's data for the provider, with `family`'s current input price raised by one dollar. */
function dataWithRaisedInput(family: string): unknown {
  const data = structuredClone(findProvider({ providerId: provider })!) as unknown as { models: Array<{ id: string; prices: unknown }> };
  const model = data.models.find((m) => m.id === family)!;
  const current = (Array.isArray(model.prices) ? (model.prices.at(-1) as { prices: Record<string, unknown> }).prices : model.prices) as Record<string, number>;
  // Added as decimals: a float sum (0.2288 + 1) would carry binary noise into the data.
  current.input_mtok = Number(new Big(current.input_mtok!).plus(1).toFixed());
  return [data];
}

describe("a refresh that changes a price under an override", () => {
  it("flags the overridden copy with the diff, leaves the others silent, and keeps the override on the new price", async () => {
    // Models with one flat price (no dates, times of day or tiers): raising it is a plain price change.
    const flat = new Set(
      findProvider({ providerId: provider })!
        .models.filter((m) => !Array.isArray(m.prices) && typeof m.prices.input_mtok === "number")
        .map((m) => m.id),
    );
    const copies = (await client.listModels({ filter: `spec.provider = "${provider}"`, limit: 100 })).items.filter((m) => flat.has(m.spec?.family ?? ""));
    expect(copies.length).toBeGreaterThanOrEqual(2);
    const [overridden, plain] = copies as [Model, Model];
    const oldInput = overridden.spec!.pricing!.base!.inputUsdPerMtok!;
    await client.updateModel({
      id: overridden.metadata!.id,
      model: fromJson(ModelSchema, { spec: { priceOverride: { discountPercent: "10" } } }),
      updateMask: { paths: ["spec.price_override"] },
    });
    const file = join(dir, "prices.json");
    writeFileSync(file, JSON.stringify(dataWithRaisedInput(overridden.spec!.family!)));

    const dry = await admin.refreshCatalog({ source: file, dryRun: true });
    expect(dry.changed.map((c) => c.catalogId)).toEqual([overridden.metadata!.catalogId]);
    expect((await client.getModel({ id: overridden.metadata!.id })).spec!.upstreamChanged).toBeUndefined();

    await admin.refreshCatalog({ source: file });
    const newInput = new Big(oldInput).plus(1).toFixed();
    const flagged = await client.getModel({ id: overridden.metadata!.id });
    expect(spec(flagged).upstreamChanged).toMatchObject({ changes: [{ field: "base.input_usd_per_mtok", oldValue: oldInput, newValue: newInput }] });
    // The discount applies to the new catalog price: (old + 1) × 0.9.
    expect(flagged.spec!.pricing!.base!.inputUsdPerMtok).toBe(new Big(newInput).times("0.9").toFixed());
    const revisions = await client.listModelRevisions({ id: overridden.metadata!.id });
    expect(revisions.items[0]!.changes.map((c) => c.field)).toContain("spec.upstream_changed");
    expect((await client.getModel({ id: plain.metadata!.id })).spec!.upstreamChanged).toBeUndefined();

    const acknowledged = await client.acknowledgeUpstreamChange({ id: overridden.metadata!.id, etag: flagged.metadata!.etag });
    expect(acknowledged.spec!.upstreamChanged).toBeUndefined();
    // The same data again changes nothing, so nothing new is flagged.
    await admin.refreshCatalog({ source: file });
    expect((await client.getModel({ id: overridden.metadata!.id })).spec!.upstreamChanged).toBeUndefined();
  });
});

import { fromJson, toJson, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import { ModelSchema, ModelSpecSchema, type Model } from "../gen/modelservice/v1/model_pb.js";
import type { CostUsage } from "../gen/modelservice/v1/model_service_pb.js";
import { copyRules } from "../src/domain/catalog/catalog-copies.js";
import { withUpstreamChange } from "../src/domain/catalog/override-fields.js";
import type { ModelRecord, ModelSpecRecord } from "../src/storage/model-store.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #17 items 5 and 6: EstimateCost with context tiers, dated prices and
 * a workspace's price overrides (absolute and percent, on the base tier, the
 * context tiers and the history), and the upstream change under an override
 * until AcknowledgeUpstreamChange; every cost worked out by hand.
 */

let service: TestService;
let client: ModelClient;
let admin: ModelClient;
let token: string;
const ws = "ws_pricing";

/** The catalog model's prices, USD per million tokens (web searches per thousand). */
const pricing = {
  base: {
    inputUsdPerMtok: "2",
    outputUsdPerMtok: "12",
    cacheReadUsdPerMtok: "0.2",
    cacheWrite5mUsdPerMtok: "2.5",
    cacheWrite1hUsdPerMtok: "4",
    audioInputUsdPerMtok: "8",
    webSearchUsdPerK: "10",
  },
  contextTiers: [{ aboveInputTokens: "200000", prices: { inputUsdPerMtok: "4", outputUsdPerMtok: "18", cacheReadUsdPerMtok: "0.4" } }],
};

/** Dated prices: until 2026-06-01 input cost 3 (6 above 200k input tokens) and output 15. */
const history = [
  {
    effectiveFrom: "2026-01-01T00:00:00Z",
    pricing: {
      base: { inputUsdPerMtok: "3", outputUsdPerMtok: "15" },
      contextTiers: [{ aboveInputTokens: "200000", prices: { inputUsdPerMtok: "6" } }],
    },
  },
  { effectiveFrom: "2026-06-01T00:00:00Z", pricing },
];

/** 150,000 input + 40,000 cache read + 10,000 cache write (5m) = 200,000 input tokens: still the base tier. */
const atTheEdge: Partial<Pick<CostUsage, "inputTokens" | "cacheReadTokens" | "cacheWrite5mTokens" | "outputTokens">> = { inputTokens: 150_000n, cacheReadTokens: 40_000n, cacheWrite5mTokens: 10_000n, outputTokens: 5_000n };
/** One input token more: 200,001 input tokens, past the tier. */
const pastTheEdge: typeof atTheEdge = { ...atTheEdge, inputTokens: 150_001n };

let systemId: string;
let catalogId: string;
let copyId: string;
let ownId: string;

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  client = modelClient(service.url, token);
  admin = modelClient(service.url, await service.token(ws, { scope: "models:read models:update models:admin" }));
  await client.listModels({ limit: 1 });
  const system = await admin.createSystemModel({
    model: fromJson(ModelSchema, { metadata: { name: "Acme Tiered" }, spec: { provider: "acme", family: "acme-tiered", pricing } }),
  });
  systemId = system.metadata!.id;
  catalogId = system.metadata!.catalogId!;
  copyId = (await client.listModels({ filter: `metadata.catalogId = "${catalogId}"` })).items[0]!.metadata!.id;
  ownId = (await client.createModel({ model: fromJson(ModelSchema, { metadata: { name: "own" }, spec: { provider: "me", family: "mine", pricing } }) })).metadata!
    .id;
});
afterAll(() => service.dispose());

async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call succeeded");
}

function fieldsOf(error: ConnectError): string[] {
  return error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field));
}

async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; json: JsonObject }> {
  const res = await fetch(service.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as JsonObject };
}

function spec(model: Model): JsonObject {
  return toJson(ModelSpecSchema, model.spec!) as JsonObject;
}

async function setOverride(priceOverride: JsonObject | undefined): Promise<Model> {
  return client.updateModel({
    id: copyId,
    model: fromJson(ModelSchema, priceOverride ? { spec: { priceOverride } } : {}),
    updateMask: { paths: ["spec.price_override"] },
  });
}

/** A catalog refresh's write as the store takes it: the model with a changed spec, one version on. */
async function storeWrite(workspaceId: string | null, id: string, change: (spec: ModelSpecRecord) => ModelSpecRecord): Promise<void> {
  const store = service.running.store;
  const record = (await store.getModel(workspaceId, id))!;
  const model: ModelRecord = { ...record, spec: change(record.spec), version: record.version + 1, updatedAt: Date.now() };
  const outcome = await store.writeModel({
    model,
    expectedVersion: record.version,
    revision: { id: `rev_${ulid()}`, modelId: id, action: "REVISION_ACTION_UPDATE", profileId: "profile_system", requestId: "", changes: [], createdAt: Date.now() },
    copies: workspaceId === null ? copyRules : undefined,
  });
  expect(outcome.kind).toBe("written");
}

describe("context tiers", () => {
  it("prices a request at the edge at the base tier, to the exact digit", async () => {
    const answer = await client.estimateCost({ id: ownId, usage: atTheEdge });
    // 150,000 × 2 + 40,000 × 0.2 + 10,000 × 2.5 + 5,000 × 12, per million: 0.3 + 0.008 + 0.025 + 0.06.
    expect(answer.totalUsd).toBe("0.393");
    expect(answer.contextTierAboveInputTokens).toBeUndefined();
  });

  it("prices the whole request at the tier once its input (cache included) passes above_input_tokens", async () => {
    const answer = await client.estimateCost({ id: ownId, usage: pastTheEdge });
    // 150,001 × 4 = 0.600004; 40,000 × 0.4 = 0.016; the tier has no cache write price: 10,000 × 2.5 = 0.025; 5,000 × 18 = 0.09.
    expect(answer.totalUsd).toBe("0.731004");
    expect(answer.contextTierAboveInputTokens).toBe(200_000n);
    expect(answer.components.map((c) => [c.component, c.unitPriceUsd, c.costUsd])).toEqual([
      ["input_usd_per_mtok", "4", "0.600004"],
      ["output_usd_per_mtok", "18", "0.09"],
      ["cache_read_usd_per_mtok", "0.4", "0.016"],
      ["cache_write_5m_usd_per_mtok", "2.5", "0.025"],
    ]);
  });

  it("counts audio input towards the tier and prices web searches per thousand, over REST", async () => {
    const { status, json } = await rest("POST", `/v1/models/${ownId}:estimateCost`, {
      usage: { inputTokens: "100000", audioInputTokens: "100001", webSearches: "3" },
    });
    expect(status, JSON.stringify(json)).toBe(200);
    // 100,000 × 4 (tier) = 0.4; 100,001 × 8 (base: the tier has no audio price) = 0.800008; 3 × 10 / 1000 = 0.03.
    expect(json.totalUsd).toBe("1.230008");
    expect(json.contextTierAboveInputTokens).toBe("200000");
  });

  it("prices a catalog copy found by its catalog id alike, over gRPC", async () => {
    const grpc = modelClient(service.url, token, "grpc");
    const answer = await grpc.estimateCost({ catalogId, usage: pastTheEdge });
    expect(answer.modelId).toBe(copyId);
    expect(answer.catalogId).toBe(catalogId);
    expect(answer.totalUsd).toBe("0.731004");
  });
});

describe("price overrides", () => {
  it("applies a percent discount to the base tier and the context tiers, in the model and in the estimate", async () => {
    const updated = await setOverride({ discountPercent: "12.5" });
    expect(spec(updated).pricing).toEqual({
      base: {
        inputUsdPerMtok: "1.75",
        outputUsdPerMtok: "10.5",
        cacheReadUsdPerMtok: "0.175",
        cacheWrite5mUsdPerMtok: "2.1875",
        cacheWrite1hUsdPerMtok: "3.5",
        audioInputUsdPerMtok: "7",
        webSearchUsdPerK: "8.75",
      },
      contextTiers: [{ aboveInputTokens: "200000", prices: { inputUsdPerMtok: "3.5", outputUsdPerMtok: "15.75", cacheReadUsdPerMtok: "0.35" } }],
    });
    // The seed fields follow the (overridden) base tier.
    expect(updated.spec!.inputPricePerMillionTokensUsd).toBe("1.75");
    expect(updated.spec!.inputPricePerMillionTokens).toBe(175n);
    const answer = await client.estimateCost({ id: copyId, usage: pastTheEdge });
    // 0.731004 × 0.875: 150,001 × 3.5 + 40,000 × 0.35 + 10,000 × 2.1875 + 5,000 × 15.75, per million.
    expect(answer.totalUsd).toBe("0.6396285");
    expect(answer.overrideApplied).toBe(true);
    // The catalog itself is unchanged.
    expect(spec(await admin.getSystemModel({ id: systemId })).pricing).toEqual(pricing);
  });

  it("applies absolute prices flat across tiers, the discount to the rest; set over REST", async () => {
    const { status, json } = await rest("PATCH", `/v1/models/${copyId}?updateMask=spec.priceOverride`, {
      spec: { priceOverride: { prices: { inputUsdPerMtok: "1" }, discountPercent: "50" } },
    });
    expect(status, JSON.stringify(json)).toBe(200);
    expect((json.spec as JsonObject).pricing).toEqual({
      base: {
        inputUsdPerMtok: "1",
        outputUsdPerMtok: "6",
        cacheReadUsdPerMtok: "0.1",
        cacheWrite5mUsdPerMtok: "1.25",
        cacheWrite1hUsdPerMtok: "2",
        audioInputUsdPerMtok: "4",
        webSearchUsdPerK: "5",
      },
      contextTiers: [{ aboveInputTokens: "200000", prices: { outputUsdPerMtok: "9", cacheReadUsdPerMtok: "0.2" } }],
    });
    const answer = await client.estimateCost({ id: copyId, usage: pastTheEdge });
    // 150,001 × 1 (flat) = 0.150001; 40,000 × 0.2 = 0.008; 10,000 × 1.25 = 0.0125; 5,000 × 9 = 0.045.
    expect(answer.totalUsd).toBe("0.215501");
    expect(answer.contextTierAboveInputTokens).toBe(200_000n);
  });

  it("records the override in the model's revisions", async () => {
    const revisions = await client.listModelRevisions({ id: copyId });
    const changed = revisions.items.flatMap((r) => r.changes.map((c) => c.field));
    expect(changed).toContain("spec.price_override");
    expect(changed).toContain("spec.pricing");
  });

  it("refuses a discount outside 0..100 and a negative price, naming the field, and changes nothing", async () => {
    const before = await client.getModel({ id: copyId });
    const discount = await rpcError(setOverride({ discountPercent: "100.5" }));
    expect(discount.code).toBe(Code.InvalidArgument);
    expect(fieldsOf(discount)).toEqual(["model.spec.priceOverride.discountPercent"]);
    const negative = await rpcError(setOverride({ prices: { outputUsdPerMtok: "-1" } }));
    expect(negative.code).toBe(Code.InvalidArgument);
    expect(fieldsOf(negative)).toEqual(["model.spec.priceOverride.prices.outputUsdPerMtok"]);
    const { status, json } = await rest("PATCH", `/v1/models/${copyId}?updateMask=spec.priceOverride`, {
      spec: { priceOverride: { discountPercent: "-5" } },
    });
    expect(status).toBe(400);
    expect(JSON.stringify(json)).toContain("model.spec.priceOverride.discountPercent");
    expect((await client.getModel({ id: copyId })).metadata!.etag).toBe(before.metadata!.etag);
  });

  it("is for catalog copies only: a workspace's own model and a system model set spec.pricing instead", async () => {
    const own = await rpcError(
      client.updateModel({ id: ownId, model: fromJson(ModelSchema, { spec: { priceOverride: { discountPercent: "10" } } }), updateMask: { paths: ["spec.price_override"] } }),
    );
    expect(own.code).toBe(Code.FailedPrecondition);
    const created = await rpcError(
      client.createModel({ model: fromJson(ModelSchema, { metadata: { name: "x" }, spec: { pricing, priceOverride: { discountPercent: "10" } } }) }),
    );
    expect(fieldsOf(created)).toEqual(["model.spec.priceOverride"]);
    const system = await rpcError(
      admin.updateSystemModel({ id: systemId, model: fromJson(ModelSchema, { spec: { priceOverride: { discountPercent: "10" } } }), updateMask: { paths: ["spec.price_override"] } }),
    );
    expect(fieldsOf(system)).toEqual(["model.spec.priceOverride"]);
    // "*" on an own model leaves the (unset) override alone.
    const replaced = await client.updateModel({
      id: ownId,
      model: fromJson(ModelSchema, { metadata: { name: "own" }, spec: { provider: "me", family: "mine", pricing } }),
      updateMask: { paths: ["*"] },
    });
    expect(replaced.spec!.priceOverride).toBeUndefined();
  });

  it("is removed by an update with the mask and no override", async () => {
    const cleared = await setOverride(undefined);
    expect(cleared.spec!.priceOverride).toBeUndefined();
    expect(spec(cleared).pricing).toEqual(pricing);
    expect((await client.estimateCost({ id: copyId, usage: pastTheEdge })).overrideApplied).toBe(false);
  });
});

describe("price history", () => {
  beforeAll(async () => {
    // The catalog's dated prices, as a refresh stores them on the system model (copies inherit them).
    await storeWrite(null, systemId, (s) => ({ ...s, priceHistory: history }));
  });

  const at = (iso: string) => timestampFromDate(new Date(iso));

  it("prices a use at the price in effect then: before and after the price change", async () => {
    const usage = { inputTokens: 1_000n, outputTokens: 1_000n };
    const before = await client.estimateCost({ id: copyId, usage, time: at("2026-03-01T00:00:00Z") });
    // 1,000 × 3 + 1,000 × 15, per million.
    expect(before.totalUsd).toBe("0.018");
    expect(timestampMs(before.priceEffectiveFrom!)).toBe(Date.parse("2026-01-01T00:00:00Z"));
    const after = await client.estimateCost({ id: copyId, usage, time: at("2026-07-01T00:00:00Z") });
    // 1,000 × 2 + 1,000 × 12, per million.
    expect(after.totalUsd).toBe("0.014");
    expect(timestampMs(after.priceEffectiveFrom!)).toBe(Date.parse("2026-06-01T00:00:00Z"));
    // The change takes effect at its instant.
    const edge = await client.estimateCost({ id: copyId, usage, time: at("2026-06-01T00:00:00Z") });
    expect(edge.totalUsd).toBe("0.014");
    // Before the first dated price, the first applies (as the price package does).
    expect((await client.estimateCost({ id: copyId, usage, time: at("2020-01-01T00:00:00Z") })).totalUsd).toBe("0.018");
  });

  it("applies the tier of the price in effect then", async () => {
    const answer = await client.estimateCost({
      id: copyId,
      usage: { inputTokens: 200_001n, outputTokens: 1_000n },
      time: at("2026-03-01T00:00:00Z"),
    });
    // 200,001 × 6 (old tier) = 1.200006; the old tier has no output price: 1,000 × 15 (old base) = 0.015.
    expect(answer.totalUsd).toBe("1.215006");
    expect(answer.contextTierAboveInputTokens).toBe(200_000n);
  });

  it("applies the override to the history as to the current prices", async () => {
    const updated = await setOverride({ discountPercent: "12.5" });
    expect(spec(updated).priceHistory).toEqual([
      {
        effectiveFrom: "2026-01-01T00:00:00Z",
        pricing: {
          base: { inputUsdPerMtok: "2.625", outputUsdPerMtok: "13.125" },
          contextTiers: [{ aboveInputTokens: "200000", prices: { inputUsdPerMtok: "5.25" } }],
        },
      },
      expect.objectContaining({ effectiveFrom: "2026-06-01T00:00:00Z" }),
    ]);
    const answer = await client.estimateCost({ id: copyId, usage: { inputTokens: 1_000n, outputTokens: 1_000n }, time: at("2026-03-01T00:00:00Z") });
    // 0.018 × 0.875.
    expect(answer.totalUsd).toBe("0.01575");
    await setOverride(undefined);
  });
});

describe("upstream changes under an override", () => {
  const newPricing = { base: { ...pricing.base, inputUsdPerMtok: "2.2" }, contextTiers: pricing.contextTiers };

  it("are carried until acknowledged (etag checked, revision recorded), then cleared", async () => {
    await setOverride({ prices: { outputUsdPerMtok: "11" } });
    // A refresh raises the catalog's input price: the copy under an override records the diff.
    await storeWrite(ws, copyId, (s) => withUpstreamChange(s, pricing, newPricing, Date.parse("2026-12-01T00:00:00Z")));
    const flagged = await client.getModel({ id: copyId });
    expect(spec(flagged).upstreamChanged).toEqual({
      detectedAt: "2026-12-01T00:00:00Z",
      changes: [{ field: "base.input_usd_per_mtok", oldValue: "2", newValue: "2.2" }],
    });
    // A second change before anyone looked keeps the first old value and its detection time.
    await storeWrite(ws, copyId, (s) => withUpstreamChange(s, newPricing, { ...newPricing, base: { ...newPricing.base, inputUsdPerMtok: "2.4" } }, Date.now()));
    expect(spec(await client.getModel({ id: copyId })).upstreamChanged).toEqual({
      detectedAt: "2026-12-01T00:00:00Z",
      changes: [{ field: "base.input_usd_per_mtok", oldValue: "2", newValue: "2.4" }],
    });

    const current = await client.getModel({ id: copyId });
    const stale = await rpcError(client.acknowledgeUpstreamChange({ id: copyId, etag: flagged.metadata!.etag }));
    expect(stale.code).toBe(Code.Aborted);
    const { status, json } = await rest("POST", `/v1/models/${copyId}:acknowledgeUpstreamChange`, { etag: current.metadata!.etag });
    expect(status, JSON.stringify(json)).toBe(200);
    expect((json.spec as JsonObject).upstreamChanged).toBeUndefined();
    expect((json.spec as JsonObject).priceOverride).toEqual({ prices: { outputUsdPerMtok: "11" } });
    const revisions = await client.listModelRevisions({ id: copyId });
    expect(revisions.items[0]!.changes.map((c) => c.field)).toEqual(["spec.upstream_changed"]);
    // Nothing left to acknowledge: the model as it is, no new revision.
    const again = await client.acknowledgeUpstreamChange({ id: copyId });
    expect(again.metadata!.etag).toBe(json.metadata && (json.metadata as JsonObject).etag);
  });

  it("are not recorded on a copy without an override, nor when a price returns to its acknowledged value", async () => {
    await setOverride(undefined);
    await storeWrite(ws, copyId, (s) => withUpstreamChange(s, pricing, newPricing, Date.now()));
    expect((await client.getModel({ id: copyId })).spec!.upstreamChanged).toBeUndefined();
    await setOverride({ discountPercent: "5" });
    await storeWrite(ws, copyId, (s) => withUpstreamChange(s, pricing, newPricing, Date.now()));
    expect((await client.getModel({ id: copyId })).spec!.upstreamChanged).toBeDefined();
    await storeWrite(ws, copyId, (s) => withUpstreamChange(s, newPricing, pricing, Date.now()));
    expect((await client.getModel({ id: copyId })).spec!.upstreamChanged).toBeUndefined();
  });
});

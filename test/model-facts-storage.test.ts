import { fromJson, toJson, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelSchema, ModelSpecSchema, type Model } from "../gen/modelservice/v1/model_pb.js";
import { LifecycleStage, Modality, ReasoningMode } from "../gen/modelservice/v1/pricing_pb.js";
import { WatchEventType } from "../gen/modelservice/v1/model_service_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #17, storage of the new ModelSpec facts: pricing with tiers, lifecycle,
 * modalities, reasoning, temperature and a price override round-trip through
 * Create / Update (field masks) / Get / List / revisions / watch, on workspace
 * models and on system models and their workspace copies; the seed price
 * fields follow the base tier; bad tiers are InvalidArgument naming the field.
 */

let service: TestService;
let client: ModelClient;
let admin: ModelClient;
const ws = "ws_facts";

const facts = {
  pricing: {
    base: { inputUsdPerMtok: "1.25", outputUsdPerMtok: "10", cacheReadUsdPerMtok: "0.125", cacheWrite1hUsdPerMtok: "2.5", webSearchUsdPerK: "10" },
    contextTiers: [{ aboveInputTokens: "200000", prices: { inputUsdPerMtok: "2.5", outputUsdPerMtok: "15" } }],
  },
  lifecycle: { stage: "LIFECYCLE_STAGE_DEPRECATED", deprecatedAt: "2026-06-01T00:00:00Z", retiresAt: "2027-01-01T00:00:00Z", replacement: "openai/gpt-x" },
  modalities: { input: ["MODALITY_TEXT", "MODALITY_IMAGE", "MODALITY_PDF"], output: ["MODALITY_TEXT"] },
  reasoning: { mode: "REASONING_MODE_EFFORT", effortLevels: ["low", "medium", "high"], defaultEffort: "medium" },
  temperature: { supported: true, min: "0", max: "2" },
};

function modelOf(json: JsonObject): Model {
  return fromJson(ModelSchema, json);
}

function specJson(m: Model | undefined): Record<string, unknown> {
  return toJson(ModelSpecSchema, m!.spec!) as Record<string, unknown>;
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

beforeAll(async () => {
  service = await startTestService();
  client = modelClient(service.url, await service.token(ws));
  admin = modelClient(service.url, await service.token(ws, { scope: "models:read models:update models:admin" }));
});
afterAll(() => service.dispose());

describe("ModelSpec facts", () => {
  it("round-trip through Create, Get, List and revisions; the seed prices follow the base tier", async () => {
    const model = await client.createModel({
      model: modelOf({ metadata: { name: "facts" }, spec: { ...facts, provider: "openai", family: "facts-1" } }),
    });
    const created = specJson(model);
    for (const [key, value] of Object.entries(facts)) expect(created[key], key).toEqual(value);
    expect(model.spec?.inputPricePerMillionTokensUsd).toBe("1.25");
    expect(model.spec?.inputPricePerMillionTokens).toBe(125n);
    expect(model.spec?.cachedInputPricePerMillionTokens).toBe(13n);
    expect(model.spec?.outputPricePerMillionTokensUsd).toBe("10");

    const got = await client.getModel({ id: model.metadata!.id });
    expect(specJson(got)).toEqual(created);
    const listed = (await client.listModels({ limit: 1000 })).items.find((m) => m.metadata?.id === model.metadata?.id);
    expect(specJson(listed)).toEqual(created);
    expect(got.spec?.lifecycle?.stage).toBe(LifecycleStage.DEPRECATED);
    expect(got.spec?.modalities?.input).toEqual([Modality.TEXT, Modality.IMAGE, Modality.PDF]);
    expect(got.spec?.reasoning?.mode).toBe(ReasoningMode.EFFORT);
  });

  it("update by mask spec.pricing replaces the pricing and derives the seed fields; other masks leave it", async () => {
    const model = await client.createModel({ model: modelOf({ metadata: { name: "masked" }, spec: { ...facts } }) });
    const id = model.metadata!.id;
    const updated = await client.updateModel({
      id,
      model: { spec: { pricing: { base: { inputUsdPerMtok: "0.075", outputUsdPerMtok: "0.3" } }, lifecycle: { stage: LifecycleStage.GA } } },
      updateMask: { paths: ["spec.pricing"] },
    });
    expect(specJson(updated).pricing).toEqual({ base: { inputUsdPerMtok: "0.075", outputUsdPerMtok: "0.3" } });
    expect(updated.spec?.inputPricePerMillionTokens).toBe(8n);
    expect(updated.spec?.cachedInputPricePerMillionTokensUsd).toBeUndefined();
    expect(specJson(updated).lifecycle).toEqual(facts.lifecycle);

    const seedOnly = await client.updateModel({
      id,
      model: { spec: { inputPricePerMillionTokensUsd: "0.1" } },
      updateMask: { paths: ["spec.input_price_per_million_tokens_usd"] },
    });
    expect(specJson(seedOnly).pricing).toEqual({ base: { inputUsdPerMtok: "0.1", outputUsdPerMtok: "0.3" } });

    const lifecycle = await client.updateModel({
      id,
      model: { spec: { lifecycle: { stage: LifecycleStage.GA } } },
      updateMask: { paths: ["spec.lifecycle"] },
    });
    expect(specJson(lifecycle).lifecycle).toEqual({ stage: "LIFECYCLE_STAGE_GA" });
    expect(specJson(lifecycle).pricing).toEqual(specJson(seedOnly).pricing);

    const revisions = await client.listModelRevisions({ id });
    const fields = revisions.items.flatMap((r) => r.changes.map((c) => c.field));
    expect(fields).toContain("spec.pricing");
    expect(fields).toContain("spec.lifecycle");
    const pricingChange = revisions.items.flatMap((r) => r.changes).find((c) => c.field === "spec.pricing" && c.newValue?.includes("0.075"));
    expect(pricingChange?.oldValue).toContain('"1.25"');
  });

  it("refuses tiers out of order and bad tier prices, naming the field", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ pricing: { contextTiers: [{ aboveInputTokens: "1000", prices: {} }, { aboveInputTokens: "500", prices: {} }] } }, "model.spec.pricing.contextTiers[1].aboveInputTokens"],
      [{ pricing: { contextTiers: [{ aboveInputTokens: "1000", prices: { inputUsdPerMtok: "-1" } }] } }, "model.spec.pricing.contextTiers[0].prices.inputUsdPerMtok"],
      [{ pricing: { base: { outputUsdPerMtok: "1e3" } } }, "model.spec.pricing.base.outputUsdPerMtok"],
    ];
    for (const [spec, field] of cases) {
      const res = await fetch(`${service.url}/modelservice.v1.ModelService/CreateModel`, {
        method: "POST",
        headers: { authorization: `Bearer ${await service.token(ws)}`, "content-type": "application/json" },
        body: JSON.stringify({ model: { metadata: { name: "bad" }, spec } }),
      });
      const body = await res.text();
      expect(res.status, body).toBe(400);
      expect(body).toContain(field);
    }
  });

  it("system models hand the facts down to workspace copies, live through watch", async () => {
    const abort = new AbortController();
    const watched: Model[] = [];
    // The stream's first event (a bookmark) says the watch is in place: writes after it are seen.
    let subscribed!: () => void;
    const inPlace = new Promise<void>((resolve) => (subscribed = resolve));
    const watching = (async () => {
      try {
        for await (const e of client.watchModels({}, { signal: abort.signal })) {
          subscribed();
          if (e.type !== WatchEventType.ADDED && e.type !== WatchEventType.MODIFIED) continue;
          if (e.model?.metadata?.name === "sys-facts") watched.push(e.model);
          if (watched.length === 2) break;
        }
      } catch {
        // aborted
      }
    })();
    await inPlace;
    const system = await admin.createSystemModel({ model: modelOf({ metadata: { name: "sys-facts" }, spec: { ...facts, provider: "x", family: "sys" } }) });
    await admin.updateSystemModel({
      id: system.metadata!.id,
      model: { spec: { pricing: { base: { inputUsdPerMtok: "3" } } } },
      updateMask: { paths: ["spec.pricing"] },
    });
    const copy = (await client.listModels({ limit: 1000, filter: 'metadata.name = "sys-facts"' })).items[0];
    expect(copy?.metadata?.workspaceId).toBe(ws);
    const spec = specJson(copy);
    expect(spec.pricing).toEqual({ base: { inputUsdPerMtok: "3" } });
    expect(spec.lifecycle).toEqual(facts.lifecycle);
    expect(spec.modalities).toEqual(facts.modalities);
    expect(spec.priceOverride).toBeUndefined();
    await watching;
    abort.abort();
    expect(watched.map((m) => m.spec?.pricing?.base?.inputUsdPerMtok)).toEqual(["1.25", "3"]);
    expect(toJson(ModelSchema, watched[0]!)).toMatchObject({ spec: { lifecycle: facts.lifecycle } });
  });

  it("survive a restart on the same database", async () => {
    const model = await client.createModel({ model: modelOf({ metadata: { name: "durable" }, spec: { ...facts } }) });
    await service.stop();
    await service.restart();
    client = modelClient(service.url, await service.token(ws));
    const got = await client.getModel({ id: model.metadata!.id });
    expect(specJson(got)).toEqual(specJson(model));
    await expect(failure(client.getModel({ id: "model_00000000000000000000000000" }))).resolves.toHaveProperty("code", Code.NotFound);
  });
});

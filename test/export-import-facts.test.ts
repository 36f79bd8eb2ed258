import { fromJson, toJson } from "@bufbuild/protobuf";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelSchema, ModelSpecSchema, type Model } from "../gen/modelservice/v1/model_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #17 item 2 in ExportModels / ImportModels: the structured spec fields
 * (pricing with tiers, price history, lifecycle, source, modalities,
 * reasoning, temperature, price override) are CSV columns named by their JSON
 * names, each cell the field's proto JSON; they round-trip through export and
 * import, and a bad cell is a row error naming its column.
 */
let s: TestService;
const clients = new Map<string, ModelClient>();

beforeAll(async () => {
  s = await startTestService();
});
afterAll(() => s.dispose());

async function client(ws: string): Promise<ModelClient> {
  if (!clients.has(ws)) clients.set(ws, modelClient(s.url, await s.token(ws)));
  return clients.get(ws)!;
}

async function exportCsv(c: ModelClient): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const body of c.exportModels({})) chunks.push(body.data);
  return Buffer.concat(chunks).toString("utf8");
}

type Row = Record<string, string>;

function rows(csv: string): Row[] {
  return parse(csv, { columns: true }) as Row[];
}

async function importCsv(c: ModelClient, csv: string) {
  return c.importModels({ csv: { contentType: "text/csv", data: new TextEncoder().encode(csv) } });
}

/** The spec fields of a model that the new columns carry, as proto JSON. */
function facts(m: Model): unknown {
  const json = toJson(ModelSpecSchema, m.spec!) as Record<string, unknown>;
  return Object.fromEntries(["pricing", "priceHistory", "lifecycle", "source", "modalities", "reasoning", "temperature", "priceOverride"].map((k) => [k, json[k]]));
}

const ownModel = fromJson(ModelSchema, {
  metadata: { name: "Facts model", externalId: "facts-1" },
  spec: {
    provider: "acme",
    family: "facts",
    pricing: {
      base: { inputUsdPerMtok: "1.25", outputUsdPerMtok: "10", cacheWrite1hUsdPerMtok: "2.5", webSearchUsdPerK: "25" },
      contextTiers: [{ aboveInputTokens: "200000", prices: { inputUsdPerMtok: "2.5", outputUsdPerMtok: "15" } }],
    },
    lifecycle: { stage: "LIFECYCLE_STAGE_PREVIEW", deprecatedAt: "2026-10-01T00:00:00Z", replacement: "acme/facts-2" },
    modalities: { input: ["MODALITY_TEXT", "MODALITY_IMAGE"], output: ["MODALITY_TEXT"] },
    reasoning: { mode: "REASONING_MODE_EFFORT", effortLevels: ["low", "high"], defaultEffort: "low" },
    temperature: { supported: true, min: "0", max: "2" },
  },
});

describe("the structured spec fields in CSV export and import", () => {
  it("export has a column per field, named by its JSON name, each cell the field's JSON; catalog copies carry source and price history", async () => {
    const c = await client("ws_facts_export");
    const created = await c.createModel({ model: ownModel });
    const copy = (await c.listModels({ limit: 1, filter: 'spec.family = "claude-opus-4-8"' })).items[0]!;
    await c.updateModel({ id: copy.metadata!.id, model: { spec: fromJson(ModelSpecSchema, { priceOverride: { discountPercent: "12.5" } }) }, updateMask: { paths: ["spec.price_override"] } });
    const exported = rows(await exportCsv(c));
    const own = exported.find((r) => r.id === created.metadata!.id)!;
    expect(JSON.parse(own.pricing!)).toEqual((toJson(ModelSpecSchema, ownModel.spec!) as Record<string, unknown>).pricing);
    expect(JSON.parse(own.lifecycle!)).toEqual({ stage: "LIFECYCLE_STAGE_PREVIEW", deprecatedAt: "2026-10-01T00:00:00Z", replacement: "acme/facts-2" });
    expect(JSON.parse(own.modalities!)).toEqual({ input: ["MODALITY_TEXT", "MODALITY_IMAGE"], output: ["MODALITY_TEXT"] });
    expect(JSON.parse(own.reasoning!)).toEqual({ mode: "REASONING_MODE_EFFORT", effortLevels: ["low", "high"], defaultEffort: "low" });
    expect(JSON.parse(own.temperature!)).toEqual({ supported: true, min: "0", max: "2" });
    expect([own.source, own.priceOverride]).toEqual(["", ""]);

    const copyRow = exported.find((r) => r.id === copy.metadata!.id)!;
    const got = await c.getModel({ id: copy.metadata!.id });
    expect(JSON.parse(copyRow.source!)).toEqual((toJson(ModelSpecSchema, got.spec!) as Record<string, unknown>).source);
    expect(JSON.parse(copyRow.source!).url).toMatch(/^https:/);
    // A catalog model with dated prices: its history, as Get shows it.
    const dated = exported.find((r) => r.priceHistory !== "")!;
    const datedModel = await c.getModel({ id: dated.id! });
    expect(JSON.parse(dated.priceHistory!)).toEqual((toJson(ModelSpecSchema, datedModel.spec!) as Record<string, unknown>).priceHistory);
    expect(JSON.parse(dated.priceHistory!).length).toBeGreaterThan(1);
    expect(JSON.parse(copyRow.priceOverride!)).toEqual({ discountPercent: "12.5" });
    expect(JSON.parse(copyRow.pricing!).base.inputUsdPerMtok).toBe(got.spec!.pricing!.base!.inputUsdPerMtok);
  });

  it("round trip: imported into another workspace, every field comes back; imported again, nothing changes", async () => {
    const from = await client("ws_facts_export");
    const csv = await exportCsv(from);
    const to = await client("ws_facts_import");
    const result = await importCsv(to, csv);
    expect(result.errors).toEqual([]);
    expect(result.createdCount).toBe(1);
    expect(result.updatedCount).toBe(1);

    const [source, target] = [await from.listModels({ limit: 1000 }), await to.listModels({ limit: 1000 })];
    const own = (r: { items: Model[] }) => r.items.find((m) => m.metadata?.externalId === "facts-1")!;
    expect(facts(own(target))).toEqual(facts(own(source)));
    const opus = (r: { items: Model[] }) => r.items.find((m) => m.spec?.family === "claude-opus-4-8")!;
    expect(facts(opus(target))).toEqual(facts(opus(source)));
    expect(opus(target).spec?.priceOverride?.discountPercent).toBe("12.5");

    // The two exports agree cell for cell but for ids and times.
    const strip = (r: Row) => Object.fromEntries(Object.entries(r).filter(([k]) => !["id", "createdAt", "updatedAt"].includes(k)));
    const key = (r: Row) => r.catalogId || r.externalId!;
    const again = new Map(rows(await exportCsv(to)).map((r) => [key(r), strip(r)]));
    for (const r of rows(csv)) expect(again.get(key(r)), key(r)).toEqual(strip(r));

    const second = await importCsv(to, await exportCsv(to));
    expect([second.errors, second.createdCount, second.updatedCount]).toEqual([[], 0, 0]);
  });

  it("an edited cell updates its field; a cell that is not the field's JSON, or breaks its rules, is an error naming the column", async () => {
    const c = await client("ws_facts_export");
    const exported = rows(await exportCsv(c));
    const own = exported.find((r) => r.externalId === "facts-1")!;
    const header = Object.keys(own);
    const file = (...rs: Row[]) => stringify([header, ...rs.map((r) => header.map((h) => r[h] ?? ""))]);

    const edited = { ...own, temperature: JSON.stringify({ supported: true, min: "0", max: "1" }) };
    const res = await importCsv(c, file(edited));
    expect([res.errors, res.updatedCount]).toEqual([[], 1]);
    expect((await c.getModel({ id: own.id! })).spec?.temperature?.max).toBe("1");

    const bad = await importCsv(
      c,
      file(
        { ...own, modalities: "text, image" },
        { ...own, id: "", externalId: "facts-bad-enum", reasoning: JSON.stringify({ mode: "REASONING_MODE_SOMETIMES" }) },
        { ...own, id: "", externalId: "facts-bad-price", pricing: JSON.stringify({ base: { inputUsdPerMtok: "-1" } }) },
      ),
    );
    expect(bad.errors.map((e) => [e.row, e.column])).toEqual([
      [2, "modalities"],
      [3, "reasoning"],
      [4, "pricing"],
    ]);
    expect(bad.errors[0]!.reason).toMatch(/JSON/);
    expect(bad.errors[1]!.reason).toMatch(/REASONING_MODE_SOMETIMES/);
    expect(bad.createdCount + bad.updatedCount).toBe(0);
  });
});

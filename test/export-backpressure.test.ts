import { setTimeout as sleep } from "node:timers/promises";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { get, Agent } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newModelId } from "../src/domain/models/model-id.js";
import type { ModelRecord } from "../src/storage/model-store.js";
import { modelClient } from "./support/clients.js";
import { workspaceModelRecord } from "./support/model-records.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * A large export or import must not freeze the process: while exports of
 * tens of thousands of rows stream (one to a client that reads slowly, one
 * over the RPC stream) and an import of as many rows is checked, the health
 * probe keeps answering quickly.
 */

const ws = "ws_export_load";
const rows = 20_000;
let service: TestService;
let token: string;

function record(i: number, now: number): ModelRecord {
  return workspaceModelRecord(ws, `Load Row ${i}`, now + i, {
    externalId: `load-${i}`,
    labels: { team: "load" },
    spec: { family: `load-row-${i}`, description: "a row of the export load test" },
  });
}

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  // The first call creates the workspace (and its catalog copies).
  await modelClient(service.url, token).listModels({ limit: 1 });
  const now = Date.now();
  // Through the store, a thousand rows a transaction: seeding stays a few seconds.
  for (let start = 0; start < rows; start += 1000) {
    const writes = Array.from({ length: 1000 }, (_, i) => {
      const model = record(start + i, now);
      const revision = { id: newModelId(), modelId: model.id, action: "REVISION_ACTION_CREATE", profileId: "profile_test", requestId: "", changes: [], createdAt: now };
      return { model, revision };
    });
    await service.running.store.writeModels(writes);
  }
}, 120_000);
afterAll(() => service.dispose());

/**
 * An export by curl, a client in its own process (so that its work does not
 * share the service's event loop): REST over HTTP/1.1, optionally reading at
 * a limited rate, or the Connect server stream over h2c. Resolves with the
 * number of lines of what it received.
 */
function curlExport(kind: "rest" | "rest-slow" | "connect-h2c"): Promise<number> {
  const out = join(service.dir, `export-${kind}.out`);
  const common = ["-sS", "--fail", "-o", out, "-H", `authorization: Bearer ${token}`];
  const args =
    kind === "connect-h2c"
      ? [
          ...common,
          "--http2-prior-knowledge",
          "-H",
          "content-type: application/connect+json",
          "-H",
          "connect-protocol-version: 1",
          // One enveloped message: flags 0, length 2, "{}".
          "--data-binary",
          "@" + envelopeFile(),
          `${service.url}/modelservice.v1.ModelService/ExportModels`,
        ]
      : [...common, ...(kind === "rest-slow" ? ["--limit-rate", "2M"] : []), `${service.url}/v1/models:export`];
  return new Promise((resolve, reject) => {
    execFile("curl", args, (error) => {
      if (error) return reject(error);
      const bytes = readFileSync(out);
      resolve(kind === "connect-h2c" ? connectStreamLines(bytes) : lineCount(bytes));
    });
  });
}

/** A dry-run REST import of `count` new models by curl; resolves with how many it would create. */
function curlImport(count: number): Promise<number> {
  const csv = join(service.dir, "import.csv");
  const rowsText = Array.from({ length: count }, (_, i) => `import-${i},Import Row ${i},acme,import-row-${i},a row of the import load test`);
  writeFileSync(csv, ["externalId,name,provider,family,description", ...rowsText].join("\n") + "\n");
  const args = ["-sS", "--fail", "-H", `authorization: Bearer ${token}`, "-H", "content-type: text/csv", "--data-binary", "@" + csv];
  return new Promise((resolve, reject) => {
    execFile("curl", [...args, `${service.url}/v1/models:import?dryRun=true`], (error, stdout) => {
      if (error) return reject(error);
      resolve((JSON.parse(stdout) as { createdCount: number }).createdCount);
    });
  });
}

function lineCount(bytes: Uint8Array): number {
  let lines = 0;
  for (const b of bytes) if (b === 10) lines++;
  return lines;
}

/** The lines of the CSV a Connect stream of google.api.HttpBody carried; throws on an error end-stream. */
function connectStreamLines(stream: Buffer): number {
  let lines = 0;
  for (let at = 0; at < stream.length; ) {
    const flags = stream[at]!;
    const length = stream.readUInt32BE(at + 1);
    const message = JSON.parse(stream.subarray(at + 5, at + 5 + length).toString("utf8")) as { data?: string; error?: unknown };
    if (flags & 2) {
      if (message.error) throw new Error(`export failed: ${JSON.stringify(message.error)}`);
    } else lines += lineCount(Buffer.from(message.data ?? "", "base64"));
    at += 5 + length;
  }
  return lines;
}

function envelopeFile(): string {
  const path = join(service.dir, "export-request.bin");
  writeFileSync(path, Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from("{}")]));
  return path;
}

describe("exports and imports under load", () => {
  it("keep /healthz answering within 100 ms (p99) while two large exports stream, one to a slow reader, and a large import is checked", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const probe = () =>
      new Promise<number>((resolve, reject) => {
        const started = performance.now();
        get(`${service.url}/healthz`, { agent }, (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`healthz ${res.statusCode}`))));
        }).on("error", reject);
      });
    await probe();

    let running = true;
    const exports = Promise.all([curlExport("rest-slow"), curlExport("connect-h2c")]);
    const imported = curlImport(rows);
    void Promise.allSettled([exports, imported]).then(() => (running = false));
    const latencies: number[] = [];
    while (running) {
      latencies.push(await probe());
      await sleep(10);
    }
    agent.destroy();

    // Every export got the header and every row: the probes ran during the whole of them.
    for (const lines of await exports) expect(lines).toBeGreaterThanOrEqual(rows + 1);
    expect(await imported).toBe(rows);
    expect(latencies.length).toBeGreaterThanOrEqual(20);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)]!;
    const median = latencies[Math.floor(latencies.length / 2)]!;
    expect(p99, `health probe latencies (ms): median ${median.toFixed(0)}, p99 ${p99.toFixed(0)}, max ${latencies.at(-1)!.toFixed(0)}`).toBeLessThan(100);
  }, 120_000);
});


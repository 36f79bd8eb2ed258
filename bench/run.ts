/**
 * npm run bench: request cost of the service's surfaces, measured in one run
 * against one server, so the ratios hold on a noisy shared machine even where
 * absolute figures do not. Rounds alternate between the surfaces.
 */
import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintToken } from "../src/domain/auth/token-minter.js";

const secret = "bench-secret-bench-secret-bench-secret-0123";
const port = 18000 + Math.floor(Math.random() * 1000);
const base = `http://127.0.0.1:${port}`;
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = 16;
const exportModels = Number(process.env.BENCH_EXPORT_MODELS ?? 100_000);

async function waitForServer(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not start");
}

interface Surface {
  name: string;
  request: autocannon.Request & { method: "GET" | "POST" };
}

async function measure(surface: Surface): Promise<{ rps: number; p50: number; p99: number }> {
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: [surface.request],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${surface.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-bench-"));
  const server = spawn(process.execPath, ["dist/src/main.js"], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", MODELSERVICE_DATA_DIR: dir, MODELSERVICE_JWT_SECRET: secret, LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    await waitForServer();
    const token = await mintToken({
      secret: new TextEncoder().encode(secret),
      workspaceId: "ws_bench",
      accountId: "acct_bench",
      profileId: "profile_bench",
      scope: "models:read",
      ttl: "1h",
    });
    const headers = { authorization: `Bearer ${token}` };
    const list = (await (await fetch(`${base}/v1/models?limit=1`, { headers })).json()) as { items: Array<{ metadata: { id: string } }> };
    const id = list.items[0]!.metadata.id;
    const surfaces: Surface[] = [
      { name: "Connect JSON GetModel (POST)", request: { method: "POST", path: "/modelservice.v1.ModelService/GetModel", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ id }) } },
      { name: "REST GET /v1/models/{id}", request: { method: "GET", path: `/v1/models/${id}`, headers } },
      { name: "Connect GET GetModel", request: { method: "GET", path: `/modelservice.v1.ModelService/GetModel?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ id }))}`, headers } },
      { name: "REST GET /v1/models?limit=50", request: { method: "GET", path: "/v1/models?limit=50", headers } },
    ];
    const totals = new Map<string, Array<{ rps: number; p50: number; p99: number }>>();
    for (let round = 0; round < rounds; round++) {
      for (const surface of surfaces) {
        const m = await measure(surface);
        totals.set(surface.name, [...(totals.get(surface.name) ?? []), m]);
        process.stderr.write(`round ${round + 1} ${surface.name}: ${m.rps.toFixed(0)} req/s\n`);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const baseline = mean(totals.get(surfaces[0]!.name)!.map((m) => m.rps));
    const lines = [
      `| surface | req/s | p50 ms | p99 ms | cost vs Connect JSON |`,
      `|---|---:|---:|---:|---:|`,
      ...surfaces.map((s) => {
        const ms = totals.get(s.name)!;
        const rps = mean(ms.map((m) => m.rps));
        return `| ${s.name} | ${rps.toFixed(0)} | ${mean(ms.map((m) => m.p50)).toFixed(1)} | ${mean(ms.map((m) => m.p99)).toFixed(1)} | ${(baseline / rps).toFixed(2)}× |`;
      }),
    ];
    process.stdout.write(
      `\n${rounds} alternating rounds of ${seconds}s per surface, ${connections} connections, HTTP/1.1 keep-alive, one server process (${process.version}, ${new Date().toISOString().slice(0, 10)}).\n\n${lines.join("\n")}\n`,
    );
    const restRatio = baseline / mean(totals.get(surfaces[1]!.name)!.map((m) => m.rps));
    process.stdout.write(`\nREST GET /v1/models/{id} costs ${restRatio.toFixed(2)}× Connect JSON GetModel (target ≤ 1.20×).\n`);
    await benchExport(server.pid!, secret);
  } finally {
    server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resident memory of a process now, in MiB (Linux). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Seeds a workspace with many models through BatchCreateModels, then streams its CSV export, sampling the server's memory. */
async function benchExport(pid: number, jwtSecret: string): Promise<void> {
  const token = await mintToken({
    secret: new TextEncoder().encode(jwtSecret),
    workspaceId: "ws_export",
    accountId: "acct_bench",
    profileId: "profile_bench",
    scope: "models:read models:create",
    ttl: "1h",
  });
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const seeded = performance.now();
  for (let done = 0; done < exportModels; done += 1000) {
    const requests = Array.from({ length: Math.min(1000, exportModels - done) }, (_, i) => ({
      model: {
        metadata: { name: `Bench model ${done + i}, "quoted"`, externalId: `bench-${done + i}`, labels: { team: "bench", shard: String(i % 10) } },
        spec: { provider: "acme", family: `bench-${i % 50}`, inputPricePerMillionTokensUsd: "0.075", maxInputTokens: 128000 },
      },
    }));
    const res = await fetch(`${base}/v1/models:batchCreate`, { method: "POST", headers, body: JSON.stringify({ requests }) });
    if (!res.ok) throw new Error(`seeding: HTTP ${res.status} ${await res.text()}`);
  }
  const seedSeconds = (performance.now() - seeded) / 1000;
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  const started = performance.now();
  const res = await fetch(`${base}/v1/models:export`, { headers: { authorization: `Bearer ${token}` } });
  let bytes = 0;
  let rows = -1; // the header
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    for (const b of chunk) if (b === 10) rows++;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  process.stdout.write(
    `\nExport: ${rows} models seeded in ${seedSeconds.toFixed(1)} s through BatchCreateModels (1000 per call), then GET /v1/models:export streamed ` +
      `${(bytes / 1048576).toFixed(1)} MiB of CSV in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s); ` +
      `server RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB during (+${(peak - before).toFixed(0)} MiB).\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});

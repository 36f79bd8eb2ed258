import { statSync } from "node:fs";
import { benchExport } from "./export.js";
import { load, type LoadResult } from "./h2load.js";
import { peakRss, rssMiB, type ServerProcess } from "./processes.js";
import { seedCustomModels, seedWorkspaces, type Minter } from "./seed.js";
import { fixed, median } from "./stats.js";
import { calls, loadSpec, type Call, type Protocol } from "./surfaces.js";

export interface ScaleOptions {
  /** The service on a database of one workspace. */
  small: ServerProcess;
  /** Starts the service on the large database (again, to time its start). */
  startLarge: () => Promise<ServerProcess>;
  largeDbPath: string;
  mint: Minter;
  workspaces: number;
  customModels: number;
  seconds: number;
  rounds: number;
}

const scaleProtocols: Protocol[] = ["gRPC (h2c)", "Connect JSON (HTTP/1.1)"];

async function firstModelId(server: ServerProcess, token: string): Promise<{ id: string; total: number }> {
  const res = await fetch(`${server.url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { items: Array<{ metadata: { id: string } }>; pagination: { total: number } };
  return { id: body.items[0]!.metadata.id, total: body.pagination.total };
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Scale: the service over workspaces × the catalog plus custom models,
 * against the same service over one workspace, in alternating rounds; the
 * export of the custom models; start time and peak memory on the large
 * database; its size per model.
 */
export async function scaleSection(o: ScaleOptions): Promise<string> {
  const benchToken = await o.mint.token("ws_bench");
  const exportToken = await o.mint.token("ws_export", "models:read models:create");
  const catalog = (await firstModelId(o.small, benchToken)).total;

  let large = await o.startLarge();
  const seedStart = performance.now();
  process.stderr.write(`seeding ${fixed(o.workspaces)} workspaces…\n`);
  const seeding = await peakRss(large.pid, async () => {
    await seedWorkspaces(large.url, o.mint, o.workspaces);
    process.stderr.write(`seeding ${fixed(o.customModels)} custom models…\n`);
    await seedCustomModels(large.url, exportToken, o.customModels);
  });
  const seedSeconds = (performance.now() - seedStart) / 1000;
  process.stderr.write(`exporting…\n`);
  const exported = await benchExport(large, exportToken);
  await large.stop();

  large = await o.startLarge();
  const rssAfterStart = rssMiB(large.pid);
  const small = await firstModelId(o.small, benchToken);
  const big = await firstModelId(large, benchToken);

  const results = new Map<string, LoadResult[]>();
  const loading = await peakRss(large.pid, async () => {
    for (let round = 0; round < o.rounds; round++) {
      process.stderr.write(`scale round ${round + 1} of ${o.rounds}\n`);
      for (const call of calls) {
        for (const protocol of scaleProtocols) {
          const pair: Array<[string, ServerProcess, string]> = [
            [`${call} ${protocol} small`, o.small, small.id],
            [`${call} ${protocol} large`, large, big.id],
          ];
          for (const [key, server, id] of round % 2 === 0 ? pair : pair.reverse()) {
            const r = await load({ ...loadSpec(server.url, benchToken, id, protocol, call as Call, o.seconds), pid: server.pid });
            results.set(key, [...(results.get(key) ?? []), r]);
            process.stderr.write(`  ${key}: ${fixed(r.rps)} req/s\n`);
          }
        }
      }
    }
  });
  await large.stop();

  const rows = (o.workspaces + 2) * catalog + catalog + o.customModels;
  const dbBytes = fileBytes(o.largeDbPath) + fileBytes(`${o.largeDbPath}-wal`);
  const med = (key: string, f: (r: LoadResult) => number) => median(results.get(key)!.map(f));
  const lines = calls.flatMap((call) =>
    scaleProtocols.map((protocol) => {
      const [s, l] = [med(`${call} ${protocol} small`, (r) => r.rps), med(`${call} ${protocol} large`, (r) => r.rps)];
      const [sCpu, lCpu] = [med(`${call} ${protocol} small`, (r) => r.cpuMsPerCall!), med(`${call} ${protocol} large`, (r) => r.cpuMsPerCall!)];
      return `| ${call} | ${protocol} | ${fixed(s)} | ${fixed(l)} | **${(l / s).toFixed(2)}×** | ${fixed(1000 * sCpu)} | ${fixed(1000 * lCpu)} |`;
    }),
  );
  const peak = Math.max(seeding.peak, exported.peakMiB, loading.peak);
  return [
    `### Scale (target: within 15% of one workspace; peak RSS < 250 MB)`,
    ``,
    `${fixed(o.workspaces)} workspaces (each with its copies of the ${catalog}-model catalog, created by its first call) and ${fixed(o.customModels)} custom models: ` +
      `${fixed(rows)} model rows, seeded over the API in ${seedSeconds.toFixed(0)} s. ` +
      `Database ${(dbBytes / 1048576).toFixed(0)} MiB: **${fixed(dbBytes / rows)} bytes per model** (indexes and full-text index included). ` +
      `Start on it (spawn → /readyz 200): **${fixed(large.startMs)} ms**; RSS after start ${rssAfterStart.toFixed(0)} MiB; ` +
      `**peak RSS ${peak.toFixed(0)} MiB** (seeding ${seeding.peak.toFixed(0)}, export ${exported.peakMiB.toFixed(0)}, load ${loading.peak.toFixed(0)}).`,
    ``,
    `| call | protocol | 1 workspace req/s | ${fixed(rows)} rows req/s | large / small | 1 workspace µs CPU/call | large µs CPU/call |`,
    `|---|---|---:|---:|---:|---:|---:|`,
    ...lines,
    ``,
    exported.markdown,
  ].join("\n");
}

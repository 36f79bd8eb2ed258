import { statSync } from "node:fs";
import { benchExport } from "./export.js";
import { load, type LoadResult } from "./h2load.js";
import { peakRss, rssMiB, type ServerProcess } from "./processes.js";
import { seedCustomModels, seedWorkspaces, type Minter } from "./seed.js";
import { alternating, fixed, Samples } from "./stats.js";
import { calls, loadSpec, type Protocol } from "./surfaces.js";
import { cyclingLoad } from "./cycling-load.js";

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
/** Many more ids than the read cache holds (some 2,000 to 3,000 models by default), so that cycling through them misses it on every call. */
const missIds = 20_000;

/** The first `count` model ids of the token's workspace, a page of 1000 at a time. */
async function modelIds(server: ServerProcess, token: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor = "";
  while (ids.length < count) {
    const res = await fetch(`${server.url}/v1/models?limit=1000&cursor=${encodeURIComponent(cursor)}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { items: Array<{ metadata: { id: string } }>; pagination: { nextCursor: string } };
    ids.push(...body.items.map((m) => m.metadata.id));
    cursor = body.pagination.nextCursor;
    if (cursor === "") break;
  }
  if (ids.length < count) throw new Error(`${server.name}: only ${ids.length} models, not ${count}`);
  return ids.slice(0, count);
}

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
  // Calls that miss the read cache: the small service gets a workspace of as many models as the large one's ids cycled.
  process.stderr.write(`seeding ${fixed(missIds)} models for cache misses…
`);
  const missToken = await o.mint.token("ws_misses", "models:read models:create");
  await seedCustomModels(o.small.url, missToken, missIds);
  const smallIds = await modelIds(o.small, missToken, missIds);
  const largeIds = await modelIds(large, exportToken, missIds);
  const filters = Array.from({ length: 400 }, (_, i) => `/v1/models?limit=50&filter=${encodeURIComponent(`name != "none-${i}"`)}`);

  type Cell = { call: string; protocol: string; run: (server: ServerProcess, side: "small" | "large") => Promise<LoadResult> };
  const cells: Cell[] = [
    ...calls.flatMap((call) =>
      scaleProtocols.map((protocol) => ({
        call,
        protocol,
        run: (server: ServerProcess, side: "small" | "large") =>
          load({ ...loadSpec(server.url, benchToken, side === "small" ? small.id : big.id, protocol, call, o.seconds), pid: server.pid }),
      })),
    ),
    {
      call: "GetModel",
      protocol: `REST, ${fixed(missIds)} ids in turn (cache misses)`,
      run: async (server, side) =>
        cyclingLoad({
          url: server.url,
          paths: (side === "small" ? smallIds : largeIds).map((id) => `/v1/models/${id}`),
          headers: { authorization: `Bearer ${side === "small" ? missToken : exportToken}` },
          seconds: o.seconds,
          connections: 16,
          pid: server.pid,
        }),
    },
    {
      call: "ListModels(50)",
      protocol: `REST, ${filters.length} filters in turn (cache misses)`,
      run: (server) => cyclingLoad({ url: server.url, paths: filters, headers: { authorization: `Bearer ${benchToken}` }, seconds: o.seconds, connections: 16, pid: server.pid }),
    },
  ];
  const results = new Samples<string, LoadResult>();
  const loading = await peakRss(large.pid, async () => {
    for (let round = 0; round < o.rounds; round++) {
      process.stderr.write(`scale round ${round + 1} of ${o.rounds}\n`);
      for (const cell of cells) {
        const pair: Array<["small" | "large", ServerProcess]> = [
          ["small", o.small],
          ["large", large],
        ];
        for (const [side, server] of alternating(round, pair)) {
          const key = `${cell.call} ${cell.protocol} ${side}`;
          const r = await cell.run(server, side);
          results.add(key, r);
          process.stderr.write(`  ${key}: ${fixed(r.rps)} req/s\n`);
        }
      }
    }
  });
  await large.stop();

  const rows = (o.workspaces + 2) * catalog + catalog + o.customModels;
  const dbBytes = fileBytes(o.largeDbPath) + fileBytes(`${o.largeDbPath}-wal`);
  const med = (key: string, f: (r: LoadResult) => number) => results.median(key, f);
  const lines = cells.map(({ call, protocol }) => {
    const [s, l] = [med(`${call} ${protocol} small`, (r) => r.rps), med(`${call} ${protocol} large`, (r) => r.rps)];
    const [sCpu, lCpu] = [med(`${call} ${protocol} small`, (r) => r.cpuMsPerCall!), med(`${call} ${protocol} large`, (r) => r.cpuMsPerCall!)];
    return `| ${call} | ${protocol} | ${fixed(s)} | ${fixed(l)} | **${(l / s).toFixed(2)}×** | ${fixed(1000 * sCpu)} | ${fixed(1000 * lCpu)} |`;
  });
  const peak = Math.max(seeding.peak, exported.peakMiB, loading.peak);
  return [
    `### Scale (target: within 15% of one workspace; peak RSS < 250 MB)`,
    ``,
    `${fixed(o.workspaces)} workspaces (each created by its first call, seeing the ${catalog}-model catalog as virtual copies) and ${fixed(o.customModels)} custom models: ` +
      `${fixed(rows)} models served, seeded over the API in ${seedSeconds.toFixed(0)} s. ` +
      `Database ${(dbBytes / 1048576).toFixed(0)} MiB: **${fixed(dbBytes / rows)} bytes per model** (indexes and full-text index included). ` +
      `Start on it (spawn → /readyz 200): **${fixed(large.startMs)} ms**; RSS after start ${rssAfterStart.toFixed(0)} MiB; ` +
      `**peak RSS ${peak.toFixed(0)} MiB** (seeding ${seeding.peak.toFixed(0)}, export ${exported.peakMiB.toFixed(0)}, load ${loading.peak.toFixed(0)}).`,
    ``,
    `The small service holds one workspace of the catalog (and, for the cache-miss rows, one of ${fixed(missIds)} custom models); the first four rows repeat one request, so after the first call the read cache answers them. The last two cycle through more distinct requests than the cache holds: every call reads the database.`,
    ``,
    `| call | protocol | small req/s | ${fixed(rows)} models req/s | large / small | small µs CPU/call | large µs CPU/call |`,
    `|---|---|---:|---:|---:|---:|---:|`,
    ...lines,
    ``,
    exported.markdown,
  ].join("\n");
}

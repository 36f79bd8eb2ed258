import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { createDatabase, startPostgresCluster } from "../test/support/postgres-cluster.js";
import { load } from "./h2load.js";
import { cpuMs, type ServerProcess } from "./processes.js";
import type { Minter } from "./seed.js";
import { alternating, fixed, Samples } from "./stats.js";
import { calls, loadSpec, type Call } from "./surfaces.js";
import { propagation } from "./watch.js";

/**
 * Issue 18's numbers, from a throwaway cluster of its own: GetModel and
 * ListModels(50) on PostgreSQL as a ratio of SQLite, read cache on and off;
 * two replicas against one; write → watcher propagation across replicas.
 */
export interface PostgresSectionOptions {
  /** Starts the built service on a data directory, with extra settings. */
  startService: (name: string, dataDir: string, env?: Record<string, string>) => Promise<ServerProcess>;
  tempDir: () => string;
  mint: Minter;
  seconds: number;
  rounds: number;
}

/** One cell's result over one or several servers loaded at once. */
interface Measured {
  rps: number;
  /** The highest p99 of the servers loaded. */
  p99Ms: number;
  /** CPU of the service processes per call. */
  serviceUs: number;
  /** CPU of every PostgreSQL process per call (0 on SQLite, which runs in the service). */
  databaseUs: number;
}

/** gRPC over h2c as every other section loads it: 4 connections × 8 streams, split between the servers loaded at once. */
const connections = 4;
const writes = 300;

/** CPU time, in ms, of the postmaster and every process it forked (the backends, one per pooled connection, and its workers). */
function clusterCpuMs(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  let total = cpuMs(postmaster);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      if (ppid === postmaster) total += cpuMs(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return total;
}

/**
 * Loads the servers at once (the connections split between them) and adds
 * up: throughput, the services' CPU per measured call, and the database's
 * CPU over the whole cell (h2load's warm-up included) per call made.
 */
async function measure(servers: ServerProcess[], token: string, modelId: string, call: Call, seconds: number, databaseCpuMs: () => number): Promise<Measured> {
  const each = connections / servers.length;
  const before = databaseCpuMs();
  const results = await Promise.all(
    servers.map((s) => load({ ...loadSpec(s.url, token, modelId, "gRPC (h2c)", call, seconds), connections: each, pid: s.pid })),
  );
  const database = databaseCpuMs() - before;
  const measuredCalls = results.map((r) => r.rps * seconds);
  const measured = measuredCalls.reduce((a, b) => a + b, 0);
  // h2load's warm-up makes 50 calls per connection (bench/h2load.ts).
  const made = measured + servers.length * each * 50;
  return {
    rps: results.reduce((sum, r) => sum + r.rps, 0),
    p99Ms: Math.max(...results.map((r) => r.p99Ms)),
    serviceUs: (1000 * results.reduce((sum, r, i) => sum + r.cpuMsPerCall! * measuredCalls[i]!, 0)) / measured,
    databaseUs: (1000 * database) / made,
  };
}

/** The first model of the workspace (its first call gives it the catalog) and how many it holds. */
async function firstModel(server: ServerProcess, token: string): Promise<{ id: string; total: number }> {
  const res = await fetch(`${server.url}/v1/models?limit=50`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`${server.name}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { items: Array<{ metadata: { id: string } }>; pagination: { total: number } };
  if (body.items.length !== 50) throw new Error(`${server.name} listed ${body.items.length} models, not 50`);
  return { id: body.items[0]!.metadata.id, total: body.pagination.total };
}

export async function postgresSection(o: PostgresSectionOptions): Promise<string> {
  process.stderr.write("starting a throwaway PostgreSQL cluster…\n");
  const cluster = await startPostgresCluster();
  // Ctrl-C or a crash past the finally below: the cluster still goes.
  process.once("exit", () => cluster.stop());
  const servers: ServerProcess[] = [];
  const start = async (name: string, dataDir: string, env: Record<string, string> = {}) => {
    const server = await o.startService(name, dataDir, env);
    servers.push(server);
    return server;
  };
  let sql: postgres.Sql | undefined;
  try {
    const database = await createDatabase(cluster.adminUrl);
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    const [{ server_version: version }] = (await sql`SHOW server_version`) as unknown as [{ server_version: string }];
    const noCache = { MODELSERVICE_READ_CACHE_BYTES: "0" };
    // Replicas open each other's sealed keys: one encryption key for all.
    const pg = { MODELSERVICE_DB: database.url, MODELSERVICE_ENCRYPTION_KEY: randomBytes(32).toString("base64") };
    const sqliteDir = o.tempDir();
    const sqlite = await start("SQLite", sqliteDir);
    const sqliteNoCache = await start("SQLite, no read cache", sqliteDir, noCache);
    const a = await start("PostgreSQL replica A", o.tempDir(), pg);
    const b = await start("PostgreSQL replica B", o.tempDir(), pg);
    const aNoCache = await start("PostgreSQL replica A, no read cache", o.tempDir(), { ...pg, ...noCache });
    const bNoCache = await start("PostgreSQL replica B, no read cache", o.tempDir(), { ...pg, ...noCache });

    const token = await o.mint.token("ws_bench");
    const onSqlite = await firstModel(sqlite, token);
    const onPostgres = await firstModel(a, token);
    if (onSqlite.total !== onPostgres.total) throw new Error(`the stores hold ${onSqlite.total} and ${onPostgres.total} models`);
    const clusterCpu = () => clusterCpuMs(cluster.dataDir);
    const inProcess = () => 0;

    type Cache = "on" | "off";
    type Side = "SQLite" | "PostgreSQL" | "one replica" | "two replicas";
    const results = new Samples<string, Measured>();
    const caches: Cache[] = ["on", "off"];
    for (let round = 0; round < o.rounds; round++) {
      process.stderr.write(`postgres round ${round + 1} of ${o.rounds}\n`);
      for (const call of calls) {
        for (const cache of caches) {
          const [s, one, two] = cache === "on" ? [sqlite, [a], [a, b]] : [sqliteNoCache, [aNoCache], [aNoCache, bNoCache]];
          const stores: Array<[Side, () => Promise<Measured>]> = [
            ["SQLite", () => measure([s], token, onSqlite.id, call, o.seconds, inProcess)],
            ["PostgreSQL", () => measure(one, token, onPostgres.id, call, o.seconds, clusterCpu)],
          ];
          const replicas: Array<[Side, () => Promise<Measured>]> = [
            ["one replica", () => measure(one, token, onPostgres.id, call, o.seconds, clusterCpu)],
            ["two replicas", () => measure(two, token, onPostgres.id, call, o.seconds, clusterCpu)],
          ];
          for (const [side, run] of [...alternating(round, stores), ...alternating(round, replicas)]) {
            const key = `${call} ${cache} ${side}`;
            const r = await run();
            results.add(key, r);
            process.stderr.write(`  ${key}: ${fixed(r.rps)} req/s, p99 ${r.p99Ms.toFixed(1)} ms, ${fixed(r.serviceUs)} + ${fixed(r.databaseUs)} µs CPU per call\n`);
          }
        }
      }
    }
    const [{ count: openConnections }] = (await sql`SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database()`) as unknown as [
      { count: number },
    ];

    process.stderr.write(`propagation: ${writes} writes on A watched on A, then on B…\n`);
    const writer = await o.mint.token("ws_bench_pg_watch", "models:read models:create");
    const same = await propagation(a.url, a.url, writer, writes);
    const across = await propagation(a.url, b.url, writer, writes);

    const med = (key: string, f: (r: Measured) => number) => results.median(key, f);
    const storeRows = calls.flatMap((call) =>
      caches.map((cache) => {
        const [s, p] = [`${call} ${cache} SQLite`, `${call} ${cache} PostgreSQL`];
        const rps = [med(s, (r) => r.rps), med(p, (r) => r.rps)] as const;
        return (
          `| ${call} | ${cache} | ${fixed(rps[0])} | ${fixed(rps[1])} | **${(rps[1] / rps[0]).toFixed(2)}×** | ` +
          `${med(s, (r) => r.p99Ms).toFixed(1)} / ${med(p, (r) => r.p99Ms).toFixed(1)} | ` +
          `${fixed(med(s, (r) => r.serviceUs))} | ${fixed(med(p, (r) => r.serviceUs))} + ${fixed(med(p, (r) => r.databaseUs))} |`
        );
      }),
    );
    const replicaRows = calls.flatMap((call) =>
      caches.map((cache) => {
        const [one, two] = [`${call} ${cache} one replica`, `${call} ${cache} two replicas`];
        const rps = [med(one, (r) => r.rps), med(two, (r) => r.rps)] as const;
        return (
          `| ${call} | ${cache} | ${fixed(rps[0])} | ${fixed(rps[1])} | **${(rps[1] / rps[0]).toFixed(2)}×** | ` +
          `${med(one, (r) => r.p99Ms).toFixed(1)} / ${med(two, (r) => r.p99Ms).toFixed(1)} | ` +
          `${fixed(med(one, (r) => r.serviceUs))} + ${fixed(med(one, (r) => r.databaseUs))} | ${fixed(med(two, (r) => r.serviceUs))} + ${fixed(med(two, (r) => r.databaseUs))} |`
        );
      }),
    );
    return [
      `### PostgreSQL (issue 18)`,
      ``,
      `A throwaway PostgreSQL ${version} cluster on loopback (\`initdb\` + \`pg_ctl\`, as the tests start it: \`fsync\` and \`synchronous_commit\` off), not pinned: it takes whichever core is free. ` +
        `Every service process runs with the default settings (a pool of 10 connections, a 4 MiB read cache; "off" is \`MODELSERVICE_READ_CACHE_BYTES=0\`), all pinned alike. ` +
        `Load: gRPC over h2c, ${connections} connections × 8 streams in all (two replicas: ${connections / 2} each, at once), ${o.seconds} s per cell, ${o.rounds} alternating rounds, medians. ` +
        `CPU per call is the service's, then (+) the database's: every PostgreSQL process, h2load's warm-up included.`,
      ``,
      `| call | read cache | SQLite req/s | PostgreSQL req/s | PostgreSQL / SQLite | p99 ms SQLite / PostgreSQL | SQLite µs CPU/call | PostgreSQL µs CPU/call (service + database) |`,
      `|---|---|---:|---:|---:|---:|---:|---:|`,
      ...storeRows,
      ``,
      `Two replicas on the one database against one replica:`,
      ``,
      `| call | read cache | one replica req/s | two replicas req/s | two / one | p99 ms one / two | µs CPU/call one (service + database) | µs CPU/call two (service + database) |`,
      `|---|---|---:|---:|---:|---:|---:|---:|`,
      ...replicaRows,
      ``,
      `Connections open on the database after the load, four service processes: ${openConnections} (this report's own included).`,
      ``,
      `| write → watcher (${writes} creates over gRPC, one at a time) | p50 | p99 |`,
      `|---|---:|---:|`,
      `| write on replica A, WatchModels on A | ${same.p50.toFixed(1)} ms | ${same.p99.toFixed(1)} ms |`,
      `| write on replica A, WatchModels on B | ${across.p50.toFixed(1)} ms | ${across.p99.toFixed(1)} ms |`,
    ].join("\n");
  } finally {
    await sql?.end({ timeout: 1 });
    await Promise.all(servers.map((s) => s.stop()));
    cluster.stop();
  }
}

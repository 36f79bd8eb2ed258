import autocannon from "autocannon";
import Database from "better-sqlite3";
import { statSync } from "node:fs";
import { join } from "node:path";
import { monotonicFactory } from "ulid";
import { catalogCopyId } from "../src/storage/catalog-copy-id.js";
import { CatalogOverlay, registerCopyIdFunction } from "../src/storage/sqlite/catalog-overlay.js";
import type { LoadResult } from "./h2load.js";
import { cpuMs, type ServerProcess } from "./processes.js";
import type { Minter } from "./seed.js";
import { alternating, fixed, Samples } from "./stats.js";

/**
 * Issue 17's overlay numbers: one database of N workspaces × the catalog in
 * today's layout (workspace catalogs as overlays: a row only where a
 * workspace changed a model) against the same workspaces in the layout
 * before it (a copy row per workspace and catalog model), 1% of the
 * workspaces having changed a few models in both. Rows are seeded straight
 * into SQLite for speed; both databases are then served by this build.
 */
export interface OverlaySectionOptions {
  startService: (name: string, dataDir: string, env?: Record<string, string>) => Promise<ServerProcess>;
  tempDir: () => string;
  mint: Minter;
  workspaces: number;
  seconds: number;
  rounds: number;
}

type Layout = "overlay" | "copies";

/** Workspaces in 100 that changed some models, and how many each changed. */
const changedPercent = 1;
const changedModels = 3;
/** Workspaces the loads cycle through: with a few models each, far more distinct calls than the read cache holds. */
const loadedWorkspaces = 2000;

/** The columns of a copy row as releases before overlays made it (domain/catalog's copyOf then), over system model s. */
const oldCopyColumn: Record<string, string> = {
  id: "@id",
  workspace_id: "@workspace",
  account_id: "'acct_bench'",
  bundle_key: "NULL",
  external_id: "NULL",
  labels: "'{}'",
  system_model_id: "s.id",
  credentials_key_id: "NULL",
  credentials_blob: "NULL",
  status: "'MODEL_STATUS_ENABLED'",
  version: "1",
  created_at: "@now",
  updated_at: "@now",
  shipped_digest: "NULL",
  shipped_position: "NULL",
};

const workspaceId = (i: number) => `ws_overlay_${i}`;

function bytesOf(path: string): number {
  let total = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      total += statSync(file).size;
    } catch {
      // no WAL file
    }
  }
  return total;
}

/**
 * Seeds the workspaces into a database the service has created (schema and
 * catalog); returns the ids GetModel cycles through, per loaded workspace.
 * The change log's insert trigger is off while seeding (as if the log had
 * been pruned since), in both layouts alike.
 */
function seed(path: string, layout: Layout, workspaces: number): Map<string, string[]> {
  const db = new Database(path);
  registerCopyIdFunction(db);
  const trigger = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'model_changes_insert'").pluck().get() as string;
  db.exec("DROP TRIGGER model_changes_insert");
  const systems = db.prepare("SELECT id FROM models WHERE workspace_id IS NULL AND visible = 1 AND delete_time IS NULL ORDER BY shipped_position").pluck().all() as string[];
  const columns = db.prepare("SELECT name FROM pragma_table_info('models')").pluck().all() as string[];
  const insertWorkspace = db.prepare("INSERT INTO workspaces (id, account_id, created_at) VALUES (?, 'acct_bench', ?)");
  const insertCopy = db.prepare(`INSERT INTO models (${columns.join(", ")}) SELECT ${columns.map((c) => oldCopyColumn[c] ?? `s.${c}`).join(", ")} FROM models s WHERE s.id = @system`);
  const overlay = new CatalogOverlay((sql) => db.prepare(sql));
  const change = db.prepare(
    `UPDATE models SET status = 'MODEL_STATUS_DISABLED', labels = '{"team":"bench"}', version = version + 1 WHERE workspace_id = ? AND system_model_id = ?`,
  );
  const nextId = monotonicFactory();
  const ids = new Map<string, string[]>();
  const every = Math.max(1, Math.floor(workspaces / loadedWorkspaces));
  const now = Date.now();
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const ws = workspaceId(i);
      insertWorkspace.run(ws, now);
      const loaded = i % every === 0 && ids.size < loadedWorkspaces;
      const mine: string[] = [];
      for (const system of systems) {
        if (layout === "copies") {
          const id = "model_" + nextId();
          insertCopy.run({ id, workspace: ws, now, system });
          mine.push(id);
        } else if (loaded) {
          mine.push(catalogCopyId(ws, system));
        }
      }
      if (i % (100 / changedPercent) === 0) {
        for (const system of systems.slice(0, changedModels)) {
          if (layout === "overlay") overlay.materialize(ws, system);
          change.run(ws, system);
        }
      }
      if (loaded) ids.set(ws, mine);
    }
  });
  for (let from = 0; from < workspaces; from += 1000) chunk(from, Math.min(workspaces, from + 1000));
  db.exec(trigger);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return ids;
}

/** GETs cycling through paths, each with its own workspace's token. */
async function cycling(server: ServerProcess, calls: Array<{ path: string; token: string }>, seconds: number): Promise<LoadResult> {
  let next = 0;
  const run = (duration: number) =>
    autocannon({
      url: server.url,
      connections: 16,
      duration,
      requests: [
        {
          method: "GET",
          setupRequest: (req) => {
            const call = calls[next++ % calls.length]!;
            return { ...req, path: call.path, headers: { ...req.headers, authorization: `Bearer ${call.token}` } };
          },
        },
      ],
    });
  await run(1);
  const before = cpuMs(server.pid);
  const r = await run(seconds);
  const after = cpuMs(server.pid);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${server.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return { rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, cpuMsPerCall: (after - before) / r.requests.total };
}

export async function overlaySection(o: OverlaySectionOptions): Promise<string> {
  const dirs = { overlay: o.tempDir(), copies: o.tempDir() };
  const ids = {} as Record<Layout, Map<string, string[]>>;
  const bytes = {} as Record<Layout, number>;
  const rows = {} as Record<Layout, number>;
  const servers: Partial<Record<Layout, ServerProcess>> = {};
  const starts = new Samples<Layout, number>();
  let catalog = 0;
  for (const layout of ["overlay", "copies"] as const) {
    await (await o.startService(`service (${layout}, empty)`, dirs[layout])).stop();
    const path = join(dirs[layout], "modelservice.db");
    process.stderr.write(`seeding ${fixed(o.workspaces)} workspaces, ${layout}…\n`);
    ids[layout] = seed(path, layout, o.workspaces);
    bytes[layout] = bytesOf(path);
    const db = new Database(path, { readonly: true });
    rows[layout] = db.prepare("SELECT count(*) FROM models WHERE workspace_id IS NOT NULL").pluck().get() as number;
    catalog = db.prepare("SELECT count(*) FROM models WHERE workspace_id IS NULL").pluck().get() as number;
    db.close();
  }
  // Start times, alternating; the last start of each serves the loads.
  for (let round = 0; round < o.rounds; round++) {
    for (const layout of alternating(round, ["overlay", "copies"] as Layout[])) {
      await servers[layout]?.stop();
      const server = await o.startService(`service (${layout})`, dirs[layout]);
      servers[layout] = server;
      starts.add(layout, server.startMs);
    }
  }

  const tokens = new Map<string, string>();
  for (const ws of ids.overlay.keys()) tokens.set(ws, await o.mint.token(ws));
  const getCalls = (layout: Layout) =>
    [...ids[layout]].flatMap(([ws, mine]) => [0, 1, mine.length - 1].map((k) => ({ path: `/v1/models/${mine[k]}`, token: tokens.get(ws)! })));
  const listCalls = () => [...tokens].map(([, token]) => ({ path: "/v1/models?limit=50", token }));
  const results = new Samples<string, LoadResult>();
  for (let round = 0; round < o.rounds; round++) {
    process.stderr.write(`overlay round ${round + 1} of ${o.rounds}\n`);
    for (const [call, calls] of [
      ["GetModel", getCalls],
      ["ListModels(50)", listCalls],
    ] as const) {
      for (const layout of alternating(round, ["overlay", "copies"] as Layout[])) {
        const r = await cycling(servers[layout]!, calls(layout), o.seconds);
        results.add(`${call} ${layout}`, r);
        process.stderr.write(`  ${call} ${layout}: ${fixed(r.rps)} req/s\n`);
      }
    }
  }
  await servers.overlay?.stop();
  await servers.copies?.stop();

  const ratio = (a: number, b: number) => `**${(a / b).toFixed(3)}×**`;
  const [startOverlay, startCopies] = [starts.median("overlay", (x) => x), starts.median("copies", (x) => x)];
  const rps = (call: string, layout: Layout) => results.median(`${call} ${layout}`, (r) => r.rps);
  const cpu = (call: string, layout: Layout) => results.median(`${call} ${layout}`, (r) => r.cpuMsPerCall!);
  return [
    `### Workspace catalogs as overlays`,
    ``,
    `${fixed(o.workspaces)} workspaces × the ${catalog}-model catalog, ${changedPercent}% of them having changed ${changedModels} models (status and labels), ` +
      `seeded straight into SQLite; both databases served by this build. The overlay keeps a row only where a workspace changed a model; the copy layout (before issue 17) keeps one per workspace and catalog model.`,
    ``,
    `| | overlay | copy per workspace | overlay / copies |`,
    `|---|---:|---:|---:|`,
    `| workspace model rows | ${fixed(rows.overlay)} | ${fixed(rows.copies)} | ${ratio(rows.overlay, rows.copies)} |`,
    `| database bytes | ${fixed(bytes.overlay / 1048576, 1)} MiB | ${fixed(bytes.copies / 1048576, 1)} MiB | ${ratio(bytes.overlay, bytes.copies)} |`,
    `| start (spawn → /readyz 200), median of ${o.rounds} | ${fixed(startOverlay)} ms | ${fixed(startCopies)} ms | ${ratio(startOverlay, startCopies)} |`,
    ...(["GetModel", "ListModels(50)"] as const).map(
      (call) =>
        `| ${call} req/s, REST, ${fixed(loadedWorkspaces)} workspaces in turn (cache misses) | ${fixed(rps(call, "overlay"))} (${fixed(1000 * cpu(call, "overlay"))} µs CPU) | ` +
        `${fixed(rps(call, "copies"))} (${fixed(1000 * cpu(call, "copies"))} µs CPU) | ${ratio(rps(call, "overlay"), rps(call, "copies"))} |`,
    ),
  ].join("\n");
}

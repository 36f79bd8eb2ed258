/**
 * npm run bench: the service against its references: a limit server (its
 * own connect-node stack with prebuilt answers, no auth, no database), a
 * peer (grpc-js) and a bare node:http route,
 * then at scale, then the export. Ratios are measured in one run, in
 * alternating rounds, so they hold on a noisy shared machine where absolute
 * figures do not. Prints the report and writes it to bench/results/latest.md.
 *
 * Settings: BENCH_SECONDS (per cell, default 3), BENCH_ROUNDS (default 3),
 * BENCH_SECTIONS (default "limit,estimate,scale,watch,overlay,postgres"), BENCH_WORKSPACES (default 10000),
 * BENCH_CUSTOM_MODELS (default 100000), BENCH_OVERLAY_WORKSPACES (default 2000: the copy layout it measures against takes about 0.5 MB per workspace). BENCH_QUICK=1 runs only the
 * comparison with the references, 2 s per cell (about 2 minutes).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { GetModelRequestSchema, ListModelsRequestSchema, ListModelsResponseSchema } from "../gen/modelservice/v1/model_service_pb.js";
import { estimateSection } from "./estimate.js";
import { ensureH2load } from "./h2load.js";
import { compareWithLimit, verifyAnswers } from "./limit-comparison.js";
import { overlaySection } from "./catalog-overlay.js";
import { postgresSection } from "./postgres.js";
import { accepting, peakRss, pinning, readyz, startProcess, type ServerProcess } from "./processes.js";
import { scaleSection } from "./scale.js";
import { minter } from "./seed.js";
import { watchSection } from "./watch.js";

const secret = "bench-secret-bench-secret-bench-secret-0123";
const quick = process.env.BENCH_QUICK === "1";
const seconds = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 3));
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sections = new Set((process.env.BENCH_SECTIONS ?? (quick ? "limit" : "limit,estimate,scale,watch,overlay,postgres")).split(","));
const workspaces = Number(process.env.BENCH_WORKSPACES ?? 10_000);
const customModels = Number(process.env.BENCH_CUSTOM_MODELS ?? 100_000);
const overlayWorkspaces = Number(process.env.BENCH_OVERLAY_WORKSPACES ?? 2_000);

const mint = minter(secret);
const servers: ServerProcess[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-bench-"));
  dirs.push(dir);
  return dir;
}

/**
 * V8 grows its heap lazily, far past what the service keeps alive; the cap
 * the README recommends for small containers makes it collect sooner. The
 * service runs under it; the references do not, so that nothing of ours
 * slows them down.
 */
const maxOldSpaceMiB = 160;

/** The built service (npm run bench builds first) on a data directory of its own. */
async function startService(name: string, dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startProcess(
    name,
    [`--max-old-space-size=${maxOldSpaceMiB}`, "dist/src/main.js"],
    { HOST: "127.0.0.1", MODELSERVICE_DATA_DIR: dataDir, MODELSERVICE_JWT_SECRET: secret, LOG_LEVEL: "warn", ...env },
    readyz,
  );
  servers.push(server);
  return server;
}

/** A reference server, compiled like the service (npm run bench builds bench/ into dist/bench): no loader, no heap cap. */
async function startBenchServer(name: string, entry: string, env: Record<string, string>): Promise<ServerProcess> {
  const server = await startProcess(name, [entry], env, accepting);
  servers.push(server);
  return server;
}

/** A Connect binary call: the answer's bytes, to hand the limit server and the peer the very same messages. */
async function protoAnswer(server: ServerProcess, token: string, method: string, body: Uint8Array): Promise<Uint8Array> {
  const res = await fetch(`${server.url}/modelservice.v1.ModelService/${method}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/proto" },
    body,
  });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores (shared), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  ensureH2load();
  const started = performance.now();
  const small = await startService("service", tempDir());
  const token = await mint.token("ws_bench");
  const answersDir = tempDir();
  const list = await protoAnswer(small, token, "ListModels", toBinary(ListModelsRequestSchema, create(ListModelsRequestSchema, { limit: 50 })));
  const modelId = fromBinary(ListModelsResponseSchema, list).items[0]!.metadata!.id;
  const model = await protoAnswer(small, token, "GetModel", toBinary(GetModelRequestSchema, create(GetModelRequestSchema, { id: modelId })));
  writeFileSync(join(answersDir, "model.bin"), model);
  writeFileSync(join(answersDir, "list.bin"), list);

  const report = [
    `## Benchmark`,
    ``,
    `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${machine()}. Everything on loopback; ${pinning ? `every server pinned to CPU ${pinning.server} and h2load to CPU ${pinning.load} (taskset)` : "not pinned: the load generator and the server share the machine's cores"}. The service runs with node \`--max-old-space-size=${maxOldSpaceMiB}\` (see the README on memory); the references run compiled JavaScript with node's defaults.`,
  ];
  if (sections.has("limit")) {
    const limit = await startBenchServer("limit server", "dist/bench/limit-server.js", {
      MODEL_FILE: join(answersDir, "model.bin"),
      LIST_FILE: join(answersDir, "list.bin"),
    });
    const peer = await startBenchServer("grpc-js peer", "dist/bench/grpc-js-peer.js", { MODEL_FILE: join(answersDir, "model.bin") });
    const bare = await startBenchServer("bare node:http", "dist/bench/bare-http.js", { MODEL_FILE: join(answersDir, "model.bin") });
    const options = { real: small, limit, peer, bare, token, modelId, seconds, rounds };
    await verifyAnswers(options);
    const { result, before, peak } = await peakRss(small.pid, () => compareWithLimit(options));
    report.push(``, result.markdown, ``, `Service RSS during this section: ${before.toFixed(0)} MiB before, **peak ${peak.toFixed(0)} MiB** (target < 250 MB).`);
    await limit.stop();
    await peer.stop();
    await bare.stop();
  }
  if (sections.has("estimate")) report.push(``, await estimateSection({ server: small, token, seconds, rounds }));
  if (sections.has("scale")) {
    const largeDir = tempDir();
    const largeDbPath = join(largeDir, "modelservice.db");
    report.push(
      ``,
      await scaleSection({ small, startLarge: () => startService("service (large)", largeDir), largeDbPath, mint, workspaces, customModels, seconds, rounds }),
    );
  }
  if (sections.has("watch")) report.push(``, await watchSection({ startService, dataDir: tempDir(), mint, seconds }));
  if (sections.has("overlay")) report.push(``, await overlaySection({ startService, tempDir, mint, workspaces: overlayWorkspaces, seconds, rounds }));
  if (sections.has("postgres")) report.push(``, await postgresSection({ startService, tempDir, mint, seconds, rounds }));
  report.push(``, `The whole run took ${((performance.now() - started) / 60_000).toFixed(1)} minutes.`);
  const text = report.join("\n") + "\n";
  process.stdout.write(`\n${text}`);
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/latest.md", text);
}

// A signal ends the run through process.exit, so that the 'exit' handlers still stop the servers and the PostgreSQL cluster.
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) process.once(signal, () => process.exit(code));

main()
  .catch((e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

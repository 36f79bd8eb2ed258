import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ModelService, WatchEventType } from "../gen/modelservice/v1/model_service_pb.js";
import { createModelResolver } from "../src/client/model-resolver.js";
import { rssMiB, type ServerProcess } from "./processes.js";
import type { Minter } from "./seed.js";
import { percentile } from "./stats.js";

/**
 * Issue 16's numbers: resolver lookups against GetModel over gRPC (one run,
 * one ratio), write → watcher propagation in one process and across two on
 * one database file, server memory per 1,000 idle watchers, and event
 * throughput with 100 watchers during a 10,000-model import.
 */
export interface WatchSectionOptions {
  /** Starts the built service on a data directory, with extra settings. */
  startService: (name: string, dataDir: string, env?: Record<string, string>) => Promise<ServerProcess>;
  dataDir: string;
  mint: Minter;
  seconds: number;
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

function grpcClient(url: string, token: string): Client<typeof ModelService> {
  return createClient(ModelService, createGrpcTransport({ baseUrl: url, interceptors: [bearer(token)] }));
}

/** Opens a watch and resolves each awaited model id when its event arrives. */
function watcher(client: Client<typeof ModelService>, signal: AbortSignal) {
  const waiting = new Map<string, (at: number) => void>();
  const arrived = new Map<string, number>();
  let count = 0;
  const opened = new Promise<void>((resolve, reject) => {
    void (async () => {
      try {
        for await (const m of client.watchModels({}, { signal })) {
          resolve();
          if (m.type === WatchEventType.BOOKMARK) continue;
          count++;
          const id = m.model?.metadata?.id ?? "";
          const at = performance.now();
          const waiter = waiting.get(id);
          if (waiter) waiter(at);
          else if (arrived.size < 1000) arrived.set(id, at);
          waiting.delete(id);
        }
      } catch (e) {
        if (!signal.aborted) reject(e);
      }
    })();
  });
  /** When the event of the model arrived (it may have before the writer got its answer). */
  const seen = (id: string) =>
    new Promise<number>((resolve) => {
      const at = arrived.get(id);
      if (at === undefined) return waiting.set(id, resolve);
      arrived.delete(id);
      resolve(at);
    });
  return { opened, seen, count: () => count };
}

/** Write → watcher latency: `n` creates on the writer, one at a time, each awaited on a watch opened on the watcher. */
export async function propagation(writerUrl: string, watcherUrl: string, token: string, n: number): Promise<{ p50: number; p99: number }> {
  const abort = new AbortController();
  const w = watcher(grpcClient(watcherUrl, token), abort.signal);
  await w.opened;
  const writer = grpcClient(writerUrl, token);
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = await writer.createModel({ model: { metadata: { name: `propagation-${i}` }, spec: { family: "bench" } } });
    const acknowledged = performance.now();
    // An event that came before the answer counts as 0.
    latencies.push(Math.max(0, (await w.seen(m.metadata!.id)) - acknowledged));
  }
  abort.abort();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export async function watchSection(o: WatchSectionOptions): Promise<string> {
  const env = { MODELSERVICE_WATCH_MAX_PER_TOKEN: "2000", MODELSERVICE_MAX_CONCURRENT_STREAMS: "1000" };
  const a = await o.startService("service A (watch)", o.dataDir, env);
  const b = await o.startService("service B (watch, same file)", o.dataDir, env);
  const token = await o.mint.token("ws_bench_watch", "models:read models:create models:update");
  const lines = [`### WatchModels and the resolver`, ``];
  try {
    // Lookups: the resolver's map read against a GetModel round trip over gRPC, same model, one after the other.
    const client = grpcClient(a.url, token);
    const id = (await client.listModels({ limit: 1 })).items[0]!.metadata!.id;
    const resolver = createModelResolver({ baseUrl: a.url, token });
    await resolver.ready();
    const deadline = performance.now() + o.seconds * 1000;
    let lookups = 0;
    while (performance.now() < deadline) for (let i = 0; i < 10_000; i++, lookups++) resolver.get(id);
    const lookupRate = lookups / o.seconds;
    const rpcDeadline = performance.now() + o.seconds * 1000;
    let rpcs = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < rpcDeadline) {
          await client.getModel({ id });
          rpcs++;
        }
      }),
    );
    const rpcRate = rpcs / o.seconds;
    resolver.close();
    lines.push(
      `| measure | value |`,
      `|---|---|`,
      `| resolver \`get(id)\` lookups/s (one thread) | ${Math.round(lookupRate).toLocaleString("en")} |`,
      `| GetModel over gRPC calls/s (16 in flight) | ${Math.round(rpcRate).toLocaleString("en")} |`,
      `| ratio | ${Math.round(lookupRate / rpcRate).toLocaleString("en")}× |`,
    );

    const same = await propagation(a.url, a.url, token, 200);
    const across = await propagation(a.url, b.url, token, 200);
    lines.push(
      `| write → watcher, same process, p50 / p99 | ${same.p50.toFixed(1)} / ${same.p99.toFixed(1)} ms |`,
      `| write → watcher, across processes on one file, p50 / p99 | ${across.p50.toFixed(1)} / ${across.p99.toFixed(1)} ms |`,
    );

    // 1,000 idle watchers on B: its resident memory before and after, over 10 HTTP/2 connections.
    const abort = new AbortController();
    const before = rssMiB(b.pid);
    const clients = Array.from({ length: 10 }, () => grpcClient(b.url, token));
    const idle = Array.from({ length: 1000 }, (_, i) => watcher(clients[i % 10]!, abort.signal));
    await Promise.all(idle.map((w) => w.opened));
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssMiB(b.pid);
    lines.push(`| server memory per 1,000 idle watchers (RSS growth) | ${(after - before).toFixed(1)} MiB |`);
    abort.abort();

    // 100 watchers on A while a 10,000-model CSV import commits.
    const flood = new AbortController();
    const hundred = Array.from({ length: 100 }, () => watcher(grpcClient(a.url, token), flood.signal));
    await Promise.all(hundred.map((w) => w.opened));
    const csv = "name,externalId,family\n" + Array.from({ length: 10_000 }, (_, i) => `imported ${i},bench-import-${i},bench\n`).join("");
    // Over at most a minute: one bench process decoding a million messages is slower than the server sending them.
    const started = performance.now();
    let imported: number | undefined;
    // Still running when the window closes, it fails as the server stops: that is no result.
    void client
      .importModels({ csv: { contentType: "text/csv", data: new TextEncoder().encode(csv) } })
      .then(() => (imported = performance.now() - started), () => undefined);
    const received = () => hundred.reduce((sum, w) => sum + w.count(), 0);
    while (received() < 100 * 10_000 && performance.now() - started < 60_000) await new Promise((r) => setTimeout(r, 50));
    const window = (performance.now() - started) / 1000;
    flood.abort();
    lines.push(
      `| 10,000-model import with 100 watchers: the import call | ${imported === undefined ? "over 60 s" : `${(imported / 1000).toFixed(1)} s`} |`,
      `| … events received by the 100 watchers | ${received().toLocaleString("en")} of 1,000,000 in ${window.toFixed(1)} s (${Math.round(received() / window).toLocaleString("en")} events/s) |`,
    );
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  return lines.join("\n");
}

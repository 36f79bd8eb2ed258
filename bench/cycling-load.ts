import autocannon from "autocannon";
import type { LoadResult } from "./h2load.js";
import { cpuMs } from "./processes.js";

export interface CyclingSpec {
  url: string;
  /** GET paths, taken in turn by all connections together: with more of them than the read cache holds, every call misses it. */
  paths: string[];
  headers: Record<string, string>;
  seconds: number;
  connections: number;
  pid: number;
}

/**
 * Loads a server with GETs that cycle through many paths. h2load walks its
 * URI list in step on every connection (most calls would hit the cache the
 * first one filled), so this load uses autocannon with one shared counter.
 */
export async function cyclingLoad(spec: CyclingSpec): Promise<LoadResult> {
  let next = 0;
  const run = (duration: number) =>
    autocannon({
      url: spec.url,
      connections: spec.connections,
      duration,
      headers: spec.headers,
      requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: spec.paths[next++ % spec.paths.length]! }) }],
    });
  await run(1);
  const before = cpuMs(spec.pid);
  const r = await run(spec.seconds);
  const after = cpuMs(spec.pid);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${spec.url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return { rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, cpuMsPerCall: (after - before) / r.requests.total };
}

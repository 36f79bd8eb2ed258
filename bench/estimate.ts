import { fixed, median } from "./stats.js";
import { load, type LoadResult } from "./h2load.js";
import type { ServerProcess } from "./processes.js";

export interface EstimateOptions {
  server: ServerProcess;
  token: string;
  seconds: number;
  rounds: number;
}

/** A catalog model with a long-context tier and a cache-read price. */
const catalogId = "openai/gpt-5.5";

/** The workspace's id of the catalog model. */
async function modelIdOf(o: EstimateOptions): Promise<string> {
  const res = await fetch(`${o.server.url}/modelservice.v1.ModelService/ListModels`, {
    method: "POST",
    headers: { authorization: `Bearer ${o.token}`, "content-type": "application/json" },
    body: JSON.stringify({ filter: `metadata.catalogId = "${catalogId}"` }),
  });
  const body = (await res.json()) as { items?: Array<{ metadata: { id: string } }> };
  const id = body.items?.[0]?.metadata.id;
  if (!res.ok || id === undefined) throw new Error(`no ${catalogId} in the catalog: HTTP ${res.status} ${JSON.stringify(body)}`);
  return id;
}

/** A Connect JSON unary call as h2load sends it. */
function connectJson(o: EstimateOptions, method: string, body: unknown) {
  return {
    url: `${o.server.url}/modelservice.v1.ModelService/${method}`,
    h1: false,
    method: "POST" as const,
    headers: { authorization: `Bearer ${o.token}`, "content-type": "application/json" },
    body: new TextEncoder().encode(JSON.stringify(body)),
    seconds: o.seconds,
    connections: 4,
    streams: 8,
    pid: o.server.pid,
  };
}

/**
 * EstimateCost calls per second beside GetModel of the same model on the same
 * server, both over Connect JSON, in alternating rounds: the ratio says what
 * pricing a usage costs on top of reading the model (a long-context usage, so
 * the tier is looked up too), and a batch of 100 says what one usage costs
 * when callers batch.
 */
export async function estimateSection(o: EstimateOptions): Promise<string> {
  const id = await modelIdOf(o);
  const usage = { inputTokens: "300000", cacheReadTokens: "10000", outputTokens: "2000" };
  const cells = {
    get: connectJson(o, "GetModel", { id }),
    estimate: connectJson(o, "EstimateCost", { id, usage }),
    batch: connectJson(o, "BatchEstimateCost", { requests: Array.from({ length: 100 }, () => ({ id, usage })) }),
  };
  const results: Record<keyof typeof cells, LoadResult[]> = { get: [], estimate: [], batch: [] };
  for (let round = 0; round < o.rounds; round++) {
    const order = (Object.keys(cells) as Array<keyof typeof cells>).slice();
    if (round % 2 === 1) order.reverse();
    for (const key of order) results[key].push(await load(cells[key]));
  }
  const rps = (key: keyof typeof cells) => median(results[key].map((r) => r.rps));
  const p99 = (key: keyof typeof cells) => median(results[key].map((r) => r.p99Ms));
  const cpu = (key: keyof typeof cells) => median(results[key].map((r) => (r.cpuMsPerCall ?? 0) * 1000));
  const row = (label: string, key: keyof typeof cells, per = 1) =>
    `| ${label} | ${fixed(rps(key) * per)} | ${fixed(p99(key), 1)} | ${fixed(cpu(key) / per)} | ${(rps(key) * per / rps("get")).toFixed(2)}× |`;
  return [
    `### EstimateCost`,
    ``,
    `Connect JSON, 4 connections × 8 streams, ${o.rounds} alternating rounds of ${o.seconds} s, medians; ${catalogId} with a 300k-token usage (its long-context tier).`,
    ``,
    `| call | usages/s | p99 ms (per call) | server CPU µs per usage | vs GetModel |`,
    `|---|---:|---:|---:|---:|`,
    row("GetModel (reference)", "get"),
    row("EstimateCost", "estimate"),
    row("BatchEstimateCost × 100", "batch", 100),
  ].join("\n");
}

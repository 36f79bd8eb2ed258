import { equals, toBinary } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ModelSchema } from "../gen/modelservice/v1/model_pb.js";
import { ListModelsResponseSchema, ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { load, type LoadResult } from "./h2load.js";
import type { ServerProcess } from "./processes.js";
import { alternating, fixed, Samples } from "./stats.js";
import { calls, loadSpec, protocols, type Call, type Protocol } from "./surfaces.js";

export interface LimitOptions {
  real: ServerProcess;
  limit: ServerProcess;
  peer: ServerProcess;
  /** A bare node:http route serving the Model as JSON (bench/bare-http.ts). */
  bare: ServerProcess;
  token: string;
  modelId: string;
  seconds: number;
  rounds: number;
}

function grpcClient(url: string, token: string) {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(ModelService, createGrpcTransport({ baseUrl: url, interceptors: [auth] }));
}

/** h2load sees only HTTP statuses; a real gRPC client checks that every server gives the same answers before any load. */
export async function verifyAnswers(o: LimitOptions): Promise<void> {
  const real = grpcClient(o.real.url, o.token);
  const model = await real.getModel({ id: o.modelId });
  const list = await real.listModels({ limit: 50 });
  if (list.items.length !== 50) throw new Error(`the real service listed ${list.items.length} models, not 50`);
  const limit = grpcClient(o.limit.url, o.token);
  if (!equals(ModelSchema, model, await limit.getModel({ id: o.modelId }))) throw new Error("the limit server answers GetModel differently");
  if (!equals(ListModelsResponseSchema, list, await limit.listModels({ limit: 50 }))) throw new Error("the limit server answers ListModels differently");
  const peer = await grpcClient(o.peer.url, o.token).getModel({ id: o.modelId });
  if (!equals(ModelSchema, model, peer)) throw new Error(`the grpc-js peer answers GetModel differently (${toBinary(ModelSchema, peer).length} bytes)`);
  const json = async (url: string) => JSON.stringify(await (await fetch(url, { headers: { authorization: `Bearer ${o.token}` } })).json());
  if ((await json(`${o.real.url}/v1/models/${o.modelId}`)) !== (await json(`${o.bare.url}/v1/models/${o.modelId}`))) {
    throw new Error("the bare node:http route answers GET /v1/models/{id} differently");
  }
}

type Key = `${Call} ${Protocol} ${"real" | "limit" | "peer" | "bare"}`;

/**
 * Every call over every protocol against the real service and the limit
 * server (and gRPC GetModel against the grpc-js peer), in alternating rounds;
 * medians per cell. Returns the report's markdown.
 */
export async function compareWithLimit(o: LimitOptions): Promise<{ markdown: string; ratios: Record<string, number> }> {
  const results = new Samples<Key, LoadResult>();
  const run = async (key: Key, server: ServerProcess, call: Call, protocol: Protocol) => {
    const r = await load({ ...loadSpec(server.url, o.token, o.modelId, protocol, call, o.seconds), pid: server.pid });
    results.add(key, r);
    process.stderr.write(`  ${key}: ${fixed(r.rps)} req/s, p99 ${r.p99Ms.toFixed(1)} ms, ${fixed(1000 * r.cpuMsPerCall!)} µs CPU per call\n`);
  };
  for (let round = 0; round < o.rounds; round++) {
    process.stderr.write(`round ${round + 1} of ${o.rounds}\n`);
    for (const call of calls) {
      for (const protocol of protocols) {
        const pair: Array<[Key, ServerProcess]> = [
          [`${call} ${protocol} real`, o.real],
          [`${call} ${protocol} limit`, o.limit],
        ];
        for (const [key, server] of alternating(round, pair)) await run(key, server, call, protocol);
        if (call === "GetModel" && protocol === "gRPC (h2c)") await run(`${call} ${protocol} peer`, o.peer, call, protocol);
        // The bare route answers any request alike; it is loaded as REST GET is.
        if (call === "GetModel" && protocol === "REST (HTTP/1.1)") await run(`${call} ${protocol} bare`, o.bare, call, protocol);
      }
    }
  }
  const med = (key: Key, f: (r: LoadResult) => number) => results.median(key, f);
  const rows: string[] = [];
  const ratios: Record<string, number> = {};
  for (const call of calls) {
    for (const protocol of protocols) {
      const real = med(`${call} ${protocol} real`, (r) => r.rps);
      const limit = med(`${call} ${protocol} limit`, (r) => r.rps);
      const realCpu = med(`${call} ${protocol} real`, (r) => r.cpuMsPerCall!);
      const limitCpu = med(`${call} ${protocol} limit`, (r) => r.cpuMsPerCall!);
      ratios[`${call} ${protocol}`] = real / limit;
      const lat = (k: Key) => `${med(k, (r) => r.p50Ms).toFixed(1)} / ${med(k, (r) => r.p99Ms).toFixed(1)}`;
      rows.push(
        `| ${call} | ${protocol} | ${fixed(real)} | ${fixed(limit)} | **${(real / limit).toFixed(2)}×** | ${fixed(1000 * realCpu)} | ${fixed(1000 * limitCpu)} | **${(limitCpu / realCpu).toFixed(2)}×** | ${lat(`${call} ${protocol} real`)} | ${lat(`${call} ${protocol} limit`)} |`,
      );
    }
  }
  const peer = med("GetModel gRPC (h2c) peer", (r) => r.rps);
  const ours = med("GetModel gRPC (h2c) real", (r) => r.rps);
  const limitGrpc = med("GetModel gRPC (h2c) limit", (r) => r.rps);
  const cpu = (k: Key) => fixed(1000 * med(k, (r) => r.cpuMsPerCall!));
  ratios["service / grpc-js"] = ours / peer;
  ratios["limit / grpc-js"] = limitGrpc / peer;
  const target = (label: string, ours: Key, reference: Key, referenceName: string, goal: number) => {
    const ratio = med(ours, (r) => r.rps) / med(reference, (r) => r.rps);
    ratios[label] = ratio;
    const cell = (k: Key) => `${fixed(med(k, (r) => r.rps))} req/s, p99 ${med(k, (r) => r.p99Ms).toFixed(1)} ms, ${cpu(k)} µs CPU`;
    const cpuRatio = med(reference, (r) => r.cpuMsPerCall!) / med(ours, (r) => r.cpuMsPerCall!);
    return `| ${label} | ${referenceName} | ${cell(ours)} | ${cell(reference)} | **${ratio.toFixed(2)}×** | ${cpuRatio.toFixed(2)}× | ≥ ${goal.toFixed(1)}× ${ratio >= goal ? "met" : "**not met**"} |`;
  };
  const targets = [
    target("GetModel, gRPC (h2c)", "GetModel gRPC (h2c) real", "GetModel gRPC (h2c) peer", "@grpc/grpc-js, prebuilt Model", 0.6),
    target("GET /v1/models/{id}, REST", "GetModel REST (HTTP/1.1) real", "GetModel REST (HTTP/1.1) bare", "bare node:http, Model serialized per call", 0.6),
    target("GetModel, Connect JSON", "GetModel Connect JSON (HTTP/1.1) real", "GetModel REST (HTTP/1.1) bare", "bare node:http, Model serialized per call", 0.5),
    ...protocols.map((protocol) => target(`ListModels(50), ${protocol}`, `ListModels(50) ${protocol} real`, `ListModels(50) ${protocol} limit`, "connect-node limit server", 1.0)),
  ];
  const markdown = [
    `### Against the references`,
    ``,
    `| call | reference | service | reference | service / reference req/s | reference / service CPU per call | target (req/s) |`,
    `|---|---|---:|---:|---:|---:|---|`,
    ...targets,
    ``,
    `### Against the limit server, per protocol`,
    ``,
    `${o.rounds} alternating rounds of ${o.seconds} s per cell (after 1 s of warm-up), medians. Load: h2load, one thread; HTTP/1.1 with 16 keep-alive connections (one request at a time on each), h2c with 4 connections × 8 concurrent streams; the bare node:http route is loaded exactly as REST GET is. CPU per call is the server process's user + system time over the measured calls (from /proc): on a shared machine it moves less than throughput.`,
    ``,
    `| call | protocol | service req/s | limit req/s | service / limit | service µs CPU/call | limit µs CPU/call | limit / service CPU | service p50 / p99 ms | limit p50 / p99 ms |`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ...rows,
    ``,
    `gRPC GetModel against @grpc/grpc-js serving a prebuilt message: grpc-js ${fixed(peer)} req/s, ${cpu("GetModel gRPC (h2c) peer")} µs CPU per call (p50 / p99 ${med("GetModel gRPC (h2c) peer", (r) => r.p50Ms).toFixed(1)} / ${med("GetModel gRPC (h2c) peer", (r) => r.p99Ms).toFixed(1)} ms); ` +
      `the service reaches **${(ours / peer).toFixed(2)}×** grpc-js's throughput (${cpu("GetModel gRPC (h2c) real")} µs CPU per call), the limit server (connect-node, prebuilt message) ${(limitGrpc / peer).toFixed(2)}× (${cpu("GetModel gRPC (h2c) limit")} µs).`,
  ].join("\n");
  return { markdown, ratios };
}

/**
 * Groups a V8 CPU profile (`node --cpu-prof`) by who spends the time: our
 * code, connect, protobuf-es, node's http/http2, jose, SQLite, the garbage
 * collector. Self time of each function goes to the group of its file; time
 * in node's other internals and in native code goes to the group of the
 * nearest caller that has one (TextEncoder called by protobuf-es counts as
 * protobuf-es, a socket's writev under node's http as node http/http2).
 * Usage: node dist/bench/profile-summary.js FILE.cpuprofile [calls] [skipMs]
 * (with calls, also µs per call; samples of the first skipMs, the start, are left out).
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
export interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export const groups = ["our code", "connect", "protobuf-es", "node http/http2", "jose", "SQLite", "GC", "other node", "other"] as const;
export type Group = (typeof groups)[number];

/** The group of a frame by itself; "inherit" for node internals and native code, which count for their caller. */
function ownGroup(url: string, functionName: string): Group | "inherit" | undefined {
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(idle)" || functionName === "(root)") return undefined;
  if (url.includes("/@connectrpc/")) return "connect";
  if (url.includes("/@bufbuild/protobuf/")) return "protobuf-es";
  if (url.includes("/jose/")) return "jose";
  if (url.includes("/better-sqlite3/")) return "SQLite";
  if (/node:(internal\/)?(http|_http|net|stream|internal\/streams|internal\/http2|tls|dns)|node:internal\/(http|stream_base|js_stream)/.test(url)) return "node http/http2";
  if (url.includes("/node_modules/")) return "other";
  if (functionName === "(program)") return "other";
  if (url.startsWith("node:") || url === "") return "inherit";
  return "our code";
}

/** Milliseconds of self time per group, and the busiest functions. */
export function summarize(profile: Profile, skipMs = 0): { ms: Map<Group, number>; total: number; top: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const groupOfNode = (id: number): Group | undefined => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      const group = ownGroup(url, functionName);
      if (group !== "inherit") return group;
    }
    return "other node";
  };
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t - profile.startTime >= skipMs * 1000) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const ms = new Map<Group, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url } = byId.get(id)!.callFrame;
    const group = groupOfNode(id);
    if (group === undefined) continue;
    ms.set(group, (ms.get(group) ?? 0) + us / 1000);
    total += us / 1000;
    const name = `${functionName || "(anonymous)"} ${url.replace(/^.*\/node_modules\//, "").replace(/^file:\/\/.*\/dist\//, "")}`;
    functions.set(name, (functions.get(name) ?? 0) + us / 1000);
  }
  const top = [...functions].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return { ms, total, top };
}

if (process.argv[1]?.endsWith("profile-summary.js")) {
  const [file, callsArg, skipArg] = process.argv.slice(2);
  const { ms, total, top } = summarize(JSON.parse(readFileSync(file!, "utf8")) as Profile, Number(skipArg ?? 0));
  const calls = Number(callsArg ?? 0);
  for (const group of groups) {
    const v = ms.get(group) ?? 0;
    process.stdout.write(`${group.padEnd(16)} ${v.toFixed(0).padStart(7)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%${calls ? ` ${((1000 * v) / calls).toFixed(0).padStart(6)} µs/call` : ""}\n`);
  }
  process.stdout.write(`total            ${total.toFixed(0).padStart(7)} ms${calls ? `        ${((1000 * total) / calls).toFixed(0).padStart(6)} µs/call` : ""}\n\n`);
  for (const [name, v] of top) process.stdout.write(`${v.toFixed(0).padStart(7)} ms  ${name}\n`);
}

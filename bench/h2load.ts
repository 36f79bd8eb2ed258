import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuMs, pinned, pinning } from "./processes.js";

/** One load of one request shape against one server. */
export interface LoadSpec {
  url: string;
  /** HTTP/1.1 with keep-alive; otherwise HTTP/2 over cleartext (prior knowledge), as gRPC clients speak it. */
  h1: boolean;
  method?: "GET" | "POST";
  headers: Record<string, string>;
  body?: Uint8Array;
  seconds: number;
  connections: number;
  /** Concurrent streams per HTTP/2 connection. */
  streams?: number;
  /** The server's process: its CPU time per call is measured too. */
  pid?: number;
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU time (user + system) per call: steadier than throughput on a shared machine. */
  cpuMsPerCall?: number;
}


/** Debian's h2load (nghttp2-client): installed on first use when missing and we may (root), else a clear error. */
export function ensureH2load(): void {
  try {
    execFileSync("h2load", ["--version"], { stdio: "ignore" });
    return;
  } catch {
    if (process.getuid?.() !== 0) throw new Error("the benchmark needs h2load: sudo apt-get install nghttp2-client");
  }
  process.stderr.write("installing h2load (Debian nghttp2-client)…\n");
  execFileSync("apt-get", ["install", "-y", "-qq", "nghttp2-client"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Runs h2load (a native load generator: one thread, so the server keeps the
 * other core) and reads per-request latencies from its log. Any non-2xx
 * answer fails the measurement: the numbers are only of successful calls.
 */
export async function load(spec: LoadSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-h2load-"));
  try {
    const log = join(dir, "requests.tsv");
    const args = [
      "-c", String(spec.connections), "-m", String(spec.h1 ? 1 : (spec.streams ?? 8)), "-t", "1",
      ...(spec.h1 ? ["--h1"] : []),
      ...Object.entries(spec.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    ];
    if (spec.body) {
      const data = join(dir, "body");
      writeFileSync(data, spec.body);
      args.push("-d", data);
    }
    // Warm-up apart from the measurement, so that the server's CPU time is of measured calls only.
    await h2load([...args, "-n", String(spec.connections * 50), spec.url]);
    const cpuBefore = spec.pid === undefined ? 0 : cpuMs(spec.pid);
    const output = await h2load([...args, "-D", String(spec.seconds), `--log-file=${log}`, spec.url]);
    const cpuAfter = spec.pid === undefined ? 0 : cpuMs(spec.pid);
    const status = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(output);
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
    const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(output);
    if (!status || !codes || !rps) throw new Error(`unexpected h2load output: ${output}`);
    if (Number(status[3]) > 0 || Number(status[4]) > 0 || Number(codes[3]) > 0 || Number(codes[4]) > 0) {
      throw new Error(`${spec.url}: not every request succeeded: ${status[0]}; ${codes[0]}`);
    }
    // Columns: start time (µs since epoch), HTTP status, µs until the end of the response.
    const micros = readFileSync(log, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => Number(line.split("\t")[2]))
      .sort((a, b) => a - b);
    return {
      rps: Number(rps[1]),
      p50Ms: percentile(micros, 50) / 1000,
      p99Ms: percentile(micros, 99) / 1000,
      cpuMsPerCall: spec.pid === undefined ? undefined : (cpuAfter - cpuBefore) / Number(codes[1]),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function h2load(args: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(...pinned(pinning?.load, "h2load", args), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`h2load exited ${code}: ${out}`))));
  });
}

/** A gRPC request body: one uncompressed length-prefixed message. */
export function grpcFrame(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.byteLength);
  new DataView(frame.buffer).setUint32(1, message.byteLength);
  frame.set(message, 5);
  return frame;
}

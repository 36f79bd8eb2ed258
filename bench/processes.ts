import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { freePort } from "../test/support/free-port.js";

/**
 * Pinning: every server on one core, the load generator on another, so they
 * do not take turns on one core and a server's CPU per call is its own work.
 * BENCH_SERVER_CPU and BENCH_LOAD_CPU (defaults 0 and 1); none on one core or
 * with BENCH_PIN=0.
 */
export const pinning =
  process.env.BENCH_PIN !== "0" && cpus().length > 1
    ? { server: process.env.BENCH_SERVER_CPU ?? "0", load: process.env.BENCH_LOAD_CPU ?? "1" }
    : undefined;

/** A command line run on the given core (taskset), or as it is when there is no pinning. */
export function pinned(cpu: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [command, args] : ["taskset", ["-c", cpu, command, ...args]];
}

export interface ServerProcess {
  name: string;
  url: string;
  port: number;
  pid: number;
  /** Milliseconds from spawn until the server answered its first probe. */
  startMs: number;
  stop(): Promise<void>;
}

/** Resident memory of a process now, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time a process has used, in ms (Linux /proc; utime and stime are in clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Peak RSS of a process while `work` runs, sampled every 20 ms. */
export async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; before: number; peak: number }> {
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  try {
    const result = await work();
    return { result, before, peak: Math.max(peak, rssMiB(pid)) };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Spawns a server and waits until `ready(url)` is true (polled every 20 ms,
 * up to five minutes: a big database takes a while to open).
 */
export async function startProcess(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: (url: string) => Promise<boolean>,
): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const [command, argv] = pinned(pinning?.server, process.execPath, args);
  const proc: ChildProcess = spawn(command, argv, {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  // A bench that ends early (an error past its cleanup, a signal) takes its servers with it.
  const killOnExit = () => proc.kill("SIGTERM");
  process.once("exit", killOnExit);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}): ${stderr}`);
    if (await ready(url).catch(() => false)) break;
    if (performance.now() - started > 300_000) throw new Error(`${name} did not start in 5 minutes: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    name,
    url,
    port,
    pid: proc.pid!,
    startMs: performance.now() - started,
    async stop() {
      process.off("exit", killOnExit);
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Ready when GET /readyz answers 200. */
export const readyz = async (url: string) => (await fetch(`${url}/readyz`)).ok;

/** Ready when a TCP connection is accepted (servers without a readiness endpoint). */
export async function accepting(url: string): Promise<boolean> {
  const { port } = new URL(url);
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const socket = connect(Number(port), "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scopes } from "../../src/domain/auth/principal.js";
import { mintToken } from "../../src/domain/auth/token-minter.js";
import { freePort } from "./free-port.js";
import { jwtSecret } from "./service.js";

export { freePort };

/** The server's entry point, run from source through tsx so a test never runs a stale build. */
const mainTs = join(import.meta.dirname, "..", "..", "src", "main.ts");

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** A token for the workspace with every model scope, signed with the process's secret. */
  token(workspaceId: string): Promise<string>;
  /** Kills the process and deletes its data directory. */
  dispose(): Promise<void>;
}

/** The real server (src/main.ts) as a child process. */
export interface ChildServer {
  proc: ChildProcess;
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** The exit code (null after a signal), once it has exited. */
  exited: Promise<number | null>;
  /** Sends the signal unless the process has exited, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts src/main.ts (through tsx) on 127.0.0.1 with `env` over the defaults
 * (the test services' JWT secret, LOG_LEVEL=warn), on `port` or a free one,
 * and waits until /readyz answers; a process that exits first or is not ready
 * in time is killed, and the error holds its output.
 */
export async function spawnServer(options: { env: Record<string, string>; nodeArgs?: string[]; port?: number; readyWithinMs: number }): Promise<ChildServer> {
  const port = options.port ?? (await freePort());
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", mainTs], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), MODELSERVICE_JWT_SECRET: jwtSecret, LOG_LEVEL: "warn", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const child: ChildServer = {
    proc,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
  for (const deadline = Date.now() + options.readyWithinMs; ; ) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}: ${output}`);
    if ((await fetch(`${child.url}/readyz`).then((r) => r.status, () => 0)) === 200) return child;
    if (Date.now() > deadline) {
      await child.stop("SIGKILL");
      throw new Error(`server not ready in ${options.readyWithinMs / 1000} s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts the real server as its own process, with `nodeArgs` (e.g. a heap
 * cap) and `env` over the defaults, on a free port and a fresh data
 * directory, and waits until /readyz answers.
 */
export async function startServerProcess(options: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-process-"));
  const dispose = async (child?: ChildServer) => {
    await child?.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  let child: ChildServer;
  try {
    child = await spawnServer({ nodeArgs: options.nodeArgs, env: { MODELSERVICE_DATA_DIR: dir, ...options.env }, readyWithinMs: 60_000 });
  } catch (e) {
    await dispose();
    throw e;
  }
  return {
    proc: child.proc,
    url: child.url,
    output: child.output,
    token: (workspaceId) =>
      mintToken({
        secret: new TextEncoder().encode(jwtSecret),
        workspaceId,
        accountId: "acct_process",
        profileId: "profile_process",
        scope: scopes.join(" "),
        ttl: "1h",
      }),
    dispose: () => dispose(child),
  };
}

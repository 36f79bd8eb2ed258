import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scopes } from "../../src/domain/auth/principal.js";
import { mintToken } from "../../src/domain/auth/token-minter.js";
import { jwtSecret } from "./service.js";

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address !== "object" || address === null) return reject(new Error("no port"));
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * Starts the real server (src/main.ts) as its own process, with `nodeArgs`
 * (e.g. a heap cap) and `env` over the defaults, on a free port and a fresh
 * data directory, and waits until /readyz answers.
 */
export async function startServerProcess(options: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-process-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", mainTs], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), MODELSERVICE_DATA_DIR: dir, MODELSERVICE_JWT_SECRET: jwtSecret, LOG_LEVEL: "warn", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const server: ServerProcess = {
    proc,
    url,
    output: () => output,
    token: (workspaceId) =>
      mintToken({
        secret: new TextEncoder().encode(jwtSecret),
        workspaceId,
        accountId: "acct_process",
        profileId: "profile_process",
        scope: scopes.join(" "),
        ttl: "1h",
      }),
    async dispose() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once("exit", resolve));
        proc.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const deadline = Date.now() + 60_000; ; ) {
    if (proc.exitCode !== null) {
      await server.dispose();
      throw new Error(`server exited: ${output}`);
    }
    const ready = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return server;
    if (Date.now() > deadline) {
      await server.dispose();
      throw new Error(`server not ready: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

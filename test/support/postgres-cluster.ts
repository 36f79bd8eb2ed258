import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "./free-port.js";

// No vitest here: the bench (bench/postgres.ts) starts its cluster with this module too.

/** A throwaway PostgreSQL cluster: its own data directory, socket directory and loopback port. */
export interface PostgresCluster {
  /** Connection URL of the cluster's superuser, on its maintenance database. */
  adminUrl: string;
  /** The data directory, for pg_ctl. */
  dataDir: string;
  /** Shuts the server down (fast: sessions are ended), keeping its data. */
  stopServer(): void;
  /** Starts the server again on the same port and data. */
  startServer(): void;
  /** Shuts the server down and deletes everything. */
  stop(): void;
}

/** Debian installs the server under /usr/lib/postgresql/<major>/bin, which is not on PATH; take the newest. */
function serverBinDir(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  majors.sort((a, b) => Number(b) - Number(a));
  if (majors.length === 0) {
    throw new Error("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql: install Debian's postgresql package");
  }
  return join(root, majors[0]!, "bin");
}

/** initdb refuses to run as root: as root, run the server as Debian's unprivileged `postgres` user. */
function asServerUser(bin: string, args: string[]): { command: string; args: string[] } {
  return userInfo().uid === 0 ? { command: "runuser", args: ["-u", "postgres", "--", bin, ...args] } : { command: bin, args };
}

function run(bin: string, args: string[]): void {
  const { command, args: all } = asServerUser(bin, args);
  const result = spawnSync(command, all, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${[bin, ...args].join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}${result.stderr}`);
  }
}

/**
 * Starts a cluster under a new temporary directory on a free loopback port,
 * tuned for tests (no fsync: the tests never survive a power loss). stop()
 * shuts it down immediately and deletes the directory.
 */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = serverBinDir();
  const dir = mkdtempSync(join(tmpdir(), "modelservice-pg-"));
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const dataDir = join(dir, "data");
  const port = await freePort();
  const stop = () => {
    if (existsSync(join(dataDir, "postmaster.pid"))) {
      const { command, args } = asServerUser(join(bin, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      spawnSync(command, args, { stdio: "ignore" });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const options = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=300",
  ].join(" ");
  const startServer = () => run(join(bin, "pg_ctl"), ["-D", dataDir, "-l", join(dir, "server.log"), "-o", options, "-w", "-t", "60", "start"]);
  try {
    run(join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--lc-collate=C", "--lc-ctype=C.UTF-8", "--no-sync", "--no-instructions"]);
    startServer();
  } catch (e) {
    const log = existsSync(join(dir, "server.log")) ? readFileSync(join(dir, "server.log"), "utf8") : "";
    stop();
    throw new Error(`could not start a throwaway PostgreSQL cluster: ${(e as Error).message}${log}`);
  }
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    stopServer: () => run(join(bin, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"]),
    startServer,
    stop,
  };
}

/** Creates a fresh, empty database on the cluster; returns its URL and a function that drops it. */
export async function createDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `test_${randomBytes(8).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await sql.end();
      }
    },
  };
}

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Tracer } from "@opentelemetry/api";
import { pino } from "pino";
import { startService, type RunningService } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { scopes } from "../../src/domain/auth/principal.js";
import { mintToken } from "../../src/domain/auth/token-minter.js";
import { traceLogFields } from "../../src/telemetry/trace-log-fields.js";
import { inject } from "vitest";
import { createDatabase, testStore } from "./postgres.js";

export const jwtSecret = "test-secret-test-secret-test-secret-0123456789";

export interface TestService {
  url: string;
  port: number;
  dir: string;
  /** The database as MODELSERVICE_DB names it: the SQLite file's path or the PostgreSQL URL (test/support/test-database.ts opens either). */
  database: string;
  running: RunningService;
  /** Every log line the service wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** A token for the workspace (default: all model scopes, account "acct_test"). */
  token(workspaceId: string, options?: { scope?: string; accountId?: string; profileId?: string; ttl?: string | number }): Promise<string>;
  /** Stops the service; the database stays for a restart. */
  stop(): Promise<void>;
  /** Starts again on the same database file. */
  restart(): Promise<void>;
  /** Stops and deletes the database. */
  dispose(): Promise<void>;
}

/**
 * Starts the real service on an ephemeral port with a fresh database under a temp directory.
 * With a tracer (src/telemetry/tracing.ts), RPCs and store calls record spans.
 * With MODELSERVICE_TEST_STORE=postgres (and no MODELSERVICE_DB in `env`), the
 * fresh database is a new database on the suite's PostgreSQL cluster, unless
 * `options.sqliteOnly` says why the test needs the SQLite file.
 */
export async function startTestService(env: Record<string, string> = {}, options: { tracer?: Tracer; sqliteOnly?: string } = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-test-"));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const onPostgres = testStore() === "postgres" && env.MODELSERVICE_DB === undefined && options.sqliteOnly === undefined;
  const database = onPostgres ? await createDatabase(postgresAdminUrl()) : undefined;
  const config = loadConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    MODELSERVICE_DATA_DIR: dir,
    MODELSERVICE_JWT_SECRET: jwtSecret,
    MODELSERVICE_SHUTDOWN_GRACE_MS: "2000",
    ...(database ? { MODELSERVICE_DB: database.url } : {}),
    ...env,
  });
  const secret = new TextEncoder().encode(jwtSecret);
  const start = () => startService({ ...config }, pino({ level: "info", mixin: traceLogFields }, sink), options.tracer);
  let running = await start();
  const service: TestService = {
    url: `http://127.0.0.1:${running.address.port}`,
    port: running.address.port,
    dir,
    database: config.postgresUrl ?? config.databasePath,
    running,
    logs,
    token: (workspaceId, o = {}) =>
      mintToken({
        secret,
        workspaceId,
        accountId: o.accountId ?? "acct_test",
        profileId: o.profileId ?? "profile_test",
        scope: o.scope ?? scopes.join(" "),
        ttl: o.ttl ?? "1h",
      }),
    stop: () => running.close(),
    async restart() {
      config.port = service.port;
      running = await start();
      // Let client pools notice the connections the old server closed before they are reused.
      await new Promise((resolve) => setTimeout(resolve, 50));
      service.running = running;
    },
    async dispose() {
      await running.close().catch(() => undefined);
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return service;
}

/** The suite's cluster, which the global setup starts for MODELSERVICE_TEST_STORE=postgres. */
function postgresAdminUrl(): string {
  const url = inject("postgresAdminUrl");
  if (!url) throw new Error("MODELSERVICE_TEST_STORE=postgres but no PostgreSQL cluster was started (test/support/postgres-global-setup.ts)");
  return url;
}

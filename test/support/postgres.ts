import { afterAll, beforeAll, inject } from "vitest";
import { startPostgresCluster, type PostgresCluster } from "./postgres-cluster.js";

export { createDatabase, startPostgresCluster, type PostgresCluster } from "./postgres-cluster.js";

/** The store the behaviour suite runs on: MODELSERVICE_TEST_STORE=postgres, else SQLite. */
export function testStore(): "postgres" | "sqlite" {
  const store = process.env.MODELSERVICE_TEST_STORE ?? "sqlite";
  if (store !== "postgres" && store !== "sqlite") throw new Error(`MODELSERVICE_TEST_STORE must be "sqlite" or "postgres", not "${store}"`);
  return store;
}

declare module "vitest" {
  interface ProvidedContext {
    /** Admin URL of the cluster the global setup started (MODELSERVICE_TEST_STORE=postgres), or "" when it started none. */
    postgresAdminUrl: string;
  }
}

/**
 * The cluster tests of this file use: the suite's (global setup) when there
 * is one, else one started for the file in beforeAll and stopped in afterAll.
 * Call at the top of a file; the returned function gives the admin URL
 * inside tests. Never skips: without PostgreSQL the file's tests fail,
 * saying why.
 */
export function usePostgres(): () => string {
  let cluster: PostgresCluster | undefined;
  let adminUrl = inject("postgresAdminUrl");
  beforeAll(async () => {
    if (adminUrl !== "") return;
    cluster = await startPostgresCluster();
    adminUrl = cluster.adminUrl;
  }, 120_000);
  afterAll(() => cluster?.stop());
  return () => {
    if (adminUrl === "") throw new Error("no PostgreSQL cluster: it failed to start (see the beforeAll error)");
    return adminUrl;
  };
}

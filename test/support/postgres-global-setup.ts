import type { TestProject } from "vitest/node";
import { startPostgresCluster, testStore, type PostgresCluster } from "./postgres.js";

/**
 * One cluster for every project of the run: vitest loads and calls the setup
 * once per project, in one process, so the cluster is kept on globalThis.
 */
const run = ((globalThis as { modelservicePostgres?: { cluster?: Promise<PostgresCluster>; projects: number } }).modelservicePostgres ??= {
  projects: 0,
});

/**
 * With MODELSERVICE_TEST_STORE=postgres, one throwaway cluster serves the
 * whole run (each test service gets its own database on it) and is stopped
 * when the run ends, whether tests passed or not, and when the process
 * exits early. A cluster that cannot start fails the run with the reason.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (testStore() !== "postgres") {
    project.provide("postgresAdminUrl", "");
    return undefined;
  }
  run.projects++;
  run.cluster ??= startPostgresCluster().then((cluster) => {
    process.once("exit", () => cluster.stop());
    return cluster;
  });
  project.provide("postgresAdminUrl", (await run.cluster).adminUrl);
  return async () => {
    if (--run.projects === 0) (await run.cluster)?.stop();
  };
}

import type { TestProject } from "vitest/node";
import { startPostgresCluster, testStore } from "./postgres.js";

/**
 * With MODELSERVICE_TEST_STORE=postgres, one throwaway cluster serves the
 * whole run (each test service gets its own database on it) and is stopped
 * when the run ends, whether tests passed or not. A cluster that cannot
 * start fails the run with the reason.
 */
export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  if (testStore() !== "postgres") {
    project.provide("postgresAdminUrl", "");
    return undefined;
  }
  const cluster = await startPostgresCluster();
  project.provide("postgresAdminUrl", cluster.adminUrl);
  return () => cluster.stop();
}

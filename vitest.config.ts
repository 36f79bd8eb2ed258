import { defineConfig } from "vitest/config";

/**
 * Tests that measure latency under load (a health probe's p99 during an
 * export or import, propagation across processes) run after all the others,
 * one file at a time, so that no other test file competes for the 2 cores.
 */
const latencyTests = ["test/export-backpressure.test.ts", "test/import-responsiveness.test.ts", "test/watch-processes.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // MODELSERVICE_TEST_STORE=postgres: one throwaway PostgreSQL cluster for the run.
    globalSetup: ["test/support/postgres-global-setup.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "behaviour",
          include: ["test/**/*.test.ts"],
          exclude: latencyTests,
          // Test files start real servers; two cores run two files at a time.
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "latency",
          include: latencyTests,
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

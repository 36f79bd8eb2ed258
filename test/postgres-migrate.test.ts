import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createDatabase, usePostgres } from "./support/postgres.js";
import { openTestDatabase } from "./support/test-database.js";

/**
 * Issue 18: `modelservice migrate` on a PostgreSQL URL, from an empty
 * database, run twice at once and run again: each migration applied exactly
 * once, and the URL's password never printed.
 */
const adminUrl = usePostgres();
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
let database: Awaited<ReturnType<typeof createDatabase>>;

beforeAll(async () => {
  database = await createDatabase(adminUrl());
});
afterAll(() => database?.drop());

/** `modelservice migrate` as operators run it, on MODELSERVICE_DB = `url`. */
function migrate(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, MODELSERVICE_DB: url };
  return new Promise((done) => {
    execFile("npx", ["tsx", "src/cli/modelservice.ts", "migrate"], { cwd: repoRoot, env, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }),
    );
  });
}

it("migrates an empty database once though two runs race, and a re-run changes nothing", async () => {
  // The test cluster trusts local connections: the password is there to be kept out of the output.
  const url = new URL(database.url);
  url.password = "not-for-the-output";
  const runs = await Promise.all([migrate(url.toString()), migrate(url.toString())]);
  const again = await migrate(url.toString());
  for (const run of [...runs, again]) {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^database postgres:\/\/postgres@127\.0\.0\.1:\d+\/test_[0-9a-f]+ is at schema version \d+\n$/);
    expect(run.stdout + run.stderr).not.toContain("not-for-the-output");
  }
  const version = Number(/schema version (\d+)/.exec(again.stdout)![1]);
  expect(version).toBeGreaterThanOrEqual(2);
  const db = openTestDatabase(database.url);
  try {
    const applied = await db.all<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
    expect(applied.map((r) => r.version)).toEqual(Array.from({ length: version }, (_v, i) => i + 1));
    expect(await db.all("SELECT id FROM models")).toEqual([]);
  } finally {
    await db.close();
  }
}, 120_000);

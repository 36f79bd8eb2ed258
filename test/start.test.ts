import { spawn } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jwtSecret } from "./support/service.js";

/*
 * `npm start` serves from dist/ and compiles only when sources changed since
 * the last build. It runs in a copy of the project (sources and dist/ with
 * their modification times), so that its builds never touch the dist/ other
 * tests run.
 */

const root = resolve(import.meta.dirname, "..");
let copy: string;

/** Gives every directory of the copy its original's times: filling a directory in the copy made it look changed. */
function restoreDirectoryTimes(original: string, copied: string): void {
  for (const entry of readdirSync(copied, { withFileTypes: true })) {
    if (entry.isDirectory()) restoreDirectoryTimes(join(original, entry.name), join(copied, entry.name));
  }
  const { atime, mtime } = statSync(original);
  utimesSync(copied, atime, mtime);
}

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), "modelservice-start-"));
  for (const entry of ["package.json", "tsconfig.json", "tsconfig.build.json", "scripts", "src", "gen", "dist"]) {
    if (!existsSync(join(root, entry))) continue;
    cpSync(join(root, entry), join(copy, entry), { recursive: true, preserveTimestamps: true });
    if (statSync(join(root, entry)).isDirectory()) restoreDirectoryTimes(join(root, entry), join(copy, entry));
  }
  symlinkSync(join(root, "node_modules"), join(copy, "node_modules"), "dir");
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

/** Runs `npm start` in the copy until the service listens, then stops it; returns what it said on stderr. */
function npmStart(): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn("npm", ["start", "--silent"], {
      cwd: copy,
      env: { ...process.env, HOST: "127.0.0.1", PORT: "0", MODELSERVICE_DATA_DIR: join(copy, "data"), MODELSERVICE_JWT_SECRET: jwtSecret },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('"msg":"listening"')) child.kill("SIGTERM");
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", fail);
    child.on("exit", () => (stdout.includes('"msg":"listening"') ? done(stderr) : fail(new Error(`npm start did not listen:\n${stderr}`))));
  });
}

const builtAt = () => ({
  server: statSync(join(copy, "dist/src/main.js")).mtimeMs,
  console: statSync(join(copy, "dist/console/index.html")).mtimeMs,
});

describe("npm start", () => {
  it("starts from an up-to-date dist without building, and rebuilds only what a source change affects", { timeout: 300_000 }, async () => {
    // Brings the copy's dist up to date, whatever state the checkout's was in.
    await npmStart();
    const before = builtAt();

    expect(await npmStart()).not.toMatch(/sources changed/);
    expect(builtAt()).toEqual(before);

    appendFileSync(join(copy, "src/main.ts"), "\n// changed\n");
    expect(await npmStart()).toMatch(/npm run build:server/);
    const after = builtAt();
    expect(after.server).toBeGreaterThan(before.server);
    expect(after.console).toBe(before.console);
  });
});

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

/*
 * `npm ci` on any platform needs the lockfile to list every optional
 * dependency, including the native binaries of the other platforms
 * (@bufbuild/buf-*, @esbuild/*, @rolldown/binding-*): an install that
 * rewrote the lockfile on one machine can drop them.
 */

interface LockedPackage {
  version?: string;
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(resolve(import.meta.dirname, "../package-lock.json"), "utf8")) as {
  packages: Record<string, LockedPackage>;
};

/** Where node would find `name` from the package at `path`: its own node_modules, then each one above. */
function locate(path: string, name: string): string | undefined {
  for (let base = path; ; ) {
    const candidate = `${base ? `${base}/` : ""}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const up = base.lastIndexOf("/node_modules/");
    base = up < 0 ? "" : base.slice(0, up);
  }
}

describe("package-lock.json", () => {
  it("records every optional dependency of every package, for every platform", () => {
    const missing = Object.entries(lock.packages).flatMap(([path, pkg]) =>
      Object.keys(pkg.optionalDependencies ?? {})
        .filter((name) => locate(path, name) === undefined)
        .map((name) => `${path || "(root)"} -> ${name}`),
    );
    expect(missing).toEqual([]);
    for (const binary of ["@bufbuild/buf-darwin-arm64", "@bufbuild/buf-win32-x64", "@esbuild/win32-x64", "@rolldown/binding-darwin-arm64"]) {
      expect(lock.packages[`node_modules/${binary}`], binary).toBeDefined();
    }
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/*
 * The CLI is a client (ARCHITECTURE.md "Who may import what"): its modules
 * import packages, gen/, src/proto and each other, never the server's
 * modules; only its entry loads the operator commands (src/ops/), lazily.
 */

const root = resolve(import.meta.dirname, "..");
const cliDir = join(root, "src", "cli");
const allowed = ["gen/", "src/proto/", "src/cli/"];

/** Every relative module a file names in a static import or export, as a path from the repository root. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"(\.[^"]+)"/gm)].map((m) => relative(root, resolve(dirname(file), m[1]!)));
}

describe("src/cli imports", () => {
  const files = readdirSync(cliDir).filter((f) => f.endsWith(".ts"));

  it("name only gen/, src/proto and the CLI's own modules", () => {
    expect(files.length).toBeGreaterThan(5);
    const outside = files.flatMap((f) => staticImports(join(cliDir, f)).filter((p) => !allowed.some((a) => p.startsWith(a))).map((p) => `${f} → ${p}`));
    expect(outside).toEqual([]);
  });

  it("load src/ops only from the entry, and only with a dynamic import", () => {
    const dynamic = files.flatMap((f) => [...readFileSync(join(cliDir, f), "utf8").matchAll(/import\("(\.[^"]+)"\)/g)].map((m) => `${f} → ${relative(root, resolve(cliDir, m[1]!))}`));
    expect(dynamic).toEqual(["modelservice.ts → src/ops/operator-commands.js"]);
  });
});

/**
 * Where a call's CPU goes: the built service under `node --cpu-prof`, one
 * process per call and protocol, loaded by h2load as the benchmark loads it
 * (pinned the same way), then the profile grouped by owner
 * (profile-summary.ts). Prints a markdown table of shares and µs per call.
 * Usage (after npm run bench built dist/): node dist/bench/profile.js
 * Settings: PROFILE_SECONDS (per cell, default 5); PROFILE_ONLY (cells whose
 * "call protocol" contains it); PROFILE_TOP=N (also the N busiest functions of
 * each cell, to stderr).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureH2load, load } from "./h2load.js";
import { readyz, startProcess } from "./processes.js";
import { groups, summarize, type Profile } from "./profile-summary.js";
import { minter } from "./seed.js";
import { calls, loadSpec, protocols } from "./surfaces.js";

const secret = "bench-secret-bench-secret-bench-secret-0123";
const seconds = Number(process.env.PROFILE_SECONDS ?? 5);
const only = process.env.PROFILE_ONLY ?? "";
const topN = Number(process.env.PROFILE_TOP ?? 0);

async function firstModelId(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${token}` } });
  const list = (await res.json()) as { items: Array<{ metadata: { id: string } }> };
  return list.items[0]!.metadata.id;
}

async function main(): Promise<void> {
  ensureH2load();
  const token = await minter(secret).token("ws_bench");
  const shown = groups;
  const rows: string[] = [];
  for (const call of calls) {
    for (const protocol of protocols) {
      if (!`${call} ${protocol}`.includes(only)) continue;
      const dir = mkdtempSync(join(tmpdir(), "modelservice-profile-"));
      try {
        const spawnedAt = performance.now();
        const server = await startProcess(
          "service",
          ["--max-old-space-size=160", "--cpu-prof", `--cpu-prof-dir=${dir}`, "dist/src/main.js"],
          { HOST: "127.0.0.1", MODELSERVICE_DATA_DIR: dir, MODELSERVICE_JWT_SECRET: secret, LOG_LEVEL: "warn" },
          readyz,
        );
        const modelId = await firstModelId(server.url, token);
        const result = await load({ ...loadSpec(server.url, token, modelId, protocol, call, seconds), pid: server.pid });
        // Start-up and warm-up are left out of the profile by time: everything before the measured load.
        const skipMs = performance.now() - seconds * 1000 - spawnedAt;
        await server.stop();
        const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"))!;
        const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
        const { ms, total, top } = summarize(profile, skipMs);
        const callsMade = result.rps * seconds;
        const share = (g: (typeof groups)[number]) => `${((100 * (ms.get(g) ?? 0)) / total).toFixed(0)}%`;
        rows.push(`| ${call} | ${protocol} | ${shown.map(share).join(" | ")} | ${((1000 * total) / callsMade).toFixed(0)} |`);
        process.stderr.write(`${rows[rows.length - 1]}\n`);
        for (const [name, v] of top.slice(0, topN)) process.stderr.write(`${((1000 * v) / callsMade).toFixed(1).padStart(7)} µs/call  ${name}\n`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  process.stdout.write(
    [`| call | protocol | ${shown.join(" | ")} | profiled µs/call |`, `|---|---|${shown.map(() => "---:|").join("")}---:|`, ...rows].join("\n") + "\n",
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`profile: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});

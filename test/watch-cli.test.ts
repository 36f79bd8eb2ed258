import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { modelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/** Issue 16: `modelservice models watch` as a subprocess (from source through tsx): one event per line, clean exit on Ctrl-C. */
let s: TestService;
let token: string;

beforeAll(async () => {
  s = await startTestService();
  token = await s.token("ws_cli_watch");
});
afterAll(async () => {
  await s.dispose();
});

function watchProcess(...args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "..", "src", "cli", "modelservice.ts"), "models", "watch", ...args], {
    env: { ...process.env, MODELSERVICE_URL: s.url, MODELSERVICE_API_KEY: token },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: Array<() => void> = [];
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    waiters.forEach((w) => w());
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines = () => stdout.split("\n").filter((l) => l !== "");
  const until = (check: (lines: string[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such output in 20 s: ${stdout} ${stderr}`)), 20_000);
      const test = () => check(lines()) && (clearTimeout(timer), resolve());
      waiters.push(test);
      test();
    });
  return { child, lines, until, exited, stderr: () => stderr };
}

it("prints one JSON event per line until Ctrl-C, then exits 0; --since resumes", async () => {
  const watch = watchProcess("-o", "json");
  await watch.until((l) => l.length >= 1);
  const c = modelClient(s.url, token);
  await c.createModel({ model: { metadata: { name: "cli-watched" }, spec: { family: "f" } } });
  await watch.until((l) => l.some((x) => x.includes("cli-watched")));
  watch.child.kill("SIGINT");
  expect(await watch.exited).toBe(0);
  const events = watch.lines().map((l) => JSON.parse(l) as { type: string; resumeToken: string; model?: { metadata?: { name?: string } } });
  expect(events[0]!.type).toBe("WATCH_EVENT_TYPE_BOOKMARK");
  const added = events.find((e) => e.model?.metadata?.name === "cli-watched")!;
  expect(added.type).toBe("WATCH_EVENT_TYPE_ADDED");

  await c.createModel({ model: { metadata: { name: "after-the-token" }, spec: { family: "f" } } });
  const resumed = watchProcess("--since", added.resumeToken, "-o", "table");
  await resumed.until((l) => l.some((x) => x.includes("after-the-token")));
  resumed.child.kill("SIGINT");
  expect(await resumed.exited).toBe(0);
  expect(resumed.lines()[0]).toMatch(/^TYPE\s+ID\s+NAME\s+RESUME TOKEN$/);
  expect(resumed.lines().some((l) => /^ADDED\s+model_\S+\s+after-the-token\s+\S+$/.test(l))).toBe(true);
  expect(resumed.lines().some((l) => l.includes("cli-watched"))).toBe(false);
}, 60_000);

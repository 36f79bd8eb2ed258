import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";
import { openTestDatabase } from "./support/test-database.js";
import { EventLog, fromStream, sseSeen } from "./support/watch.js";

/** Issue 16: resuming (exactly once, in order), retention, shutdown, deadlines and the bounds on watchers. */
let s: TestService;
const aborts: AbortController[] = [];

function watchLog(token: string, request: { resumeToken?: string; filter?: string; sendInitialState?: boolean }, options: { timeoutMs?: number } = {}) {
  const abort = new AbortController();
  aborts.push(abort);
  return { log: new EventLog(fromStream(modelClient(s.url, token, "grpc").watchModels(request, { signal: abort.signal, ...options }))), abort };
}

beforeAll(async () => {
  s = await startTestService({ MODELSERVICE_WATCH_MAX_PER_TOKEN: "3" });
});
afterAll(async () => {
  for (const a of aborts) a.abort();
  await s.dispose();
});

describe("resuming", () => {
  it("a writer racing reconnects: every acknowledged write is seen once, in order, across resumes", async () => {
    const token = await s.token("ws_race");
    const c = modelClient(s.url, token);
    const { log: first, abort } = watchLog(token, { sendInitialState: true });
    await first.until((e) => e.some((x) => x.type === "SYNCED"));
    const acknowledged: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing || i < 40; i++) {
        const m = await c.createModel({ model: { metadata: { name: `race-${i}` }, spec: { family: "f" } } });
        acknowledged.push(m.metadata!.id);
      }
    })();
    // Reconnect three times while the writer runs, each time from the last token received.
    const seen: string[] = [];
    let log = first;
    let stop = abort;
    for (let round = 0; round < 3; round++) {
      await log.until((e) => e.filter((x) => x.type === "ADDED" && x.resumeToken !== "").length >= 5);
      stop.abort();
      await log.endedWith();
      const changes = log.changes().filter((x) => x.resumeToken !== "");
      seen.push(...changes.map((x) => x.id!));
      const next = watchLog(token, { resumeToken: changes.at(-1)!.resumeToken });
      log = next.log;
      stop = next.abort;
    }
    writing = false;
    await writer;
    await log.until((e) => seen.length + e.filter((x) => x.type === "ADDED").length >= acknowledged.length);
    seen.push(...log.changes().map((x) => x.id!));
    expect(seen).toEqual(acknowledged);
  });

  it("SSE resumes from Last-Event-ID", async () => {
    const token = await s.token("ws_sse_resume");
    const c = modelClient(s.url, token);
    const abort = new AbortController();
    aborts.push(abort);
    const res = await fetch(`${s.url}/v1/models:watch`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    const log = new EventLog(sseSeen(res));
    await new Promise((r) => setTimeout(r, 100));
    await c.createModel({ model: { metadata: { name: "before-drop" }, spec: { family: "f" } } });
    await log.until((e) => e.some((x) => x.name === "before-drop"));
    abort.abort();
    const lastEventId = log.events.at(-1)!.resumeToken;
    await c.createModel({ model: { metadata: { name: "while-away" }, spec: { family: "f" } } });
    const again = new AbortController();
    aborts.push(again);
    const resumed = await fetch(`${s.url}/v1/workspaces/ws_sse_resume/models:watch`, {
      headers: { authorization: `Bearer ${token}`, "last-event-id": lastEventId },
      signal: again.signal,
    });
    const log2 = new EventLog(sseSeen(resumed));
    await log2.until((e) => e.some((x) => x.name === "while-away"));
    expect(log2.changes().map((x) => x.name)).toEqual(["while-away"]);
  });

  it("a token older than the retained change log ends OutOfRange", async () => {
    const token = await s.token("ws_old");
    const c = modelClient(s.url, token);
    const { log } = watchLog(token, { sendInitialState: true });
    await log.until((e) => e.some((x) => x.type === "SYNCED"));
    const old = log.events.find((x) => x.type === "SYNCED")!.resumeToken;
    await c.createModel({ model: { metadata: { name: "aged" }, spec: { family: "f" } } });
    await log.until((e) => e.some((x) => x.name === "aged"));
    // Time passes: every change is older than the retention; a restart prunes the log.
    await s.stop();
    const db = openTestDatabase(s.database);
    await db.run("UPDATE model_changes SET committed_at = 0");
    await db.close();
    await s.restart();
    const { log: resumed } = watchLog(token, { resumeToken: old });
    expect((await resumed.endedWith())?.code).toBe(Code.OutOfRange);
  });
});

describe("ending", () => {
  it("honours the call's deadline", async () => {
    const token = await s.token("ws_deadline");
    const started = Date.now();
    const { log } = watchLog(token, {}, { timeoutMs: 300 });
    expect((await log.endedWith())?.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("at most MODELSERVICE_WATCH_MAX_PER_TOKEN watches per token: the next is ResourceExhausted", async () => {
    const token = await s.token("ws_limit", { profileId: "profile_limited" });
    const open = [0, 1, 2].map(() => watchLog(token, { sendInitialState: true }));
    for (const w of open) await w.log.until((e) => e.some((x) => x.type === "SYNCED"));
    const { log } = watchLog(token, {});
    expect((await log.endedWith())?.code).toBe(Code.ResourceExhausted);
    open[0]!.abort.abort();
    await open[0]!.log.endedWith();
    await new Promise((r) => setTimeout(r, 50));
    const { log: again } = watchLog(token, { sendInitialState: true });
    await again.until((e) => e.some((x) => x.type === "SYNCED"));
  });

  it("on shutdown every stream ends Unavailable", async () => {
    const token = await s.token("ws_shutdown");
    const { log } = watchLog(token, { sendInitialState: true });
    await log.until((e) => e.some((x) => x.type === "SYNCED"));
    const stopped = s.stop();
    expect((await log.endedWith())?.code).toBe(Code.Unavailable);
    await stopped;
    await s.restart();
  });
});

describe("slow consumers", () => {
  it("a watcher more than MODELSERVICE_WATCH_BUFFER_EVENTS behind ends ResourceExhausted; one that keeps up sees everything", async () => {
    const slow = await startTestService({ MODELSERVICE_WATCH_BUFFER_EVENTS: "50" });
    try {
      const token = await slow.token("ws_slow");
      const c = modelClient(slow.url, token);
      const abort = new AbortController();
      aborts.push(abort);
      // Never read: the transport's windows fill, then the server's queue.
      const stalled = modelClient(slow.url, token, "grpc").watchModels({}, { signal: abort.signal })[Symbol.asyncIterator]();
      const first = stalled.next();
      const reader = new EventLog(fromStream(modelClient(slow.url, token, "grpc").watchModels({}, { signal: abort.signal })));
      await new Promise((r) => setTimeout(r, 100));
      // Batches below the cap, each read by the live reader before the next.
      for (let i = 0; i < 15; i++) {
        await c.batchCreateModels({
          requests: Array.from({ length: 40 }, (_, j) => ({ model: { metadata: { name: `bulk-${i}-${j}` }, spec: { family: "f", description: "d".repeat(2000) } } })),
        });
        await reader.until((e) => e.length >= 40 * (i + 1), 10_000);
      }
      await first;
      let error: ConnectError | undefined;
      try {
        for (;;) if ((await stalled.next()).done) break;
      } catch (e) {
        error = ConnectError.from(e);
      }
      expect(error?.code).toBe(Code.ResourceExhausted);
      expect(reader.ended).toBe(false);
    } finally {
      await slow.dispose();
    }
  });
});

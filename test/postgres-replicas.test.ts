import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ModelOrigin, type Model } from "../gen/modelservice/v1/model_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { createDatabase, usePostgres } from "./support/postgres.js";
import { startServerProcess, type ServerProcess } from "./support/server-process.js";
import { openTestDatabase } from "./support/test-database.js";
import { EventLog, fromStream } from "./support/watch.js";

/**
 * Issue 18: two replicas (two server processes) on one PostgreSQL database
 * behave as one service. They start at once, so their migrations and
 * catalog syncs race too.
 */
const adminUrl = usePostgres();
let database: Awaited<ReturnType<typeof createDatabase>>;
let a: ServerProcess;
let b: ServerProcess;
let onA: ModelClient;
let onB: ModelClient;
const abort = new AbortController();

beforeAll(async () => {
  database = await createDatabase(adminUrl());
  // Replicas share the key credentials are sealed with, as they share the database.
  const env = { MODELSERVICE_DB: database.url, MODELSERVICE_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64") };
  [a, b] = await Promise.all([startServerProcess({ env }), startServerProcess({ env })]);
  const token = await a.token("ws_replicas");
  onA = modelClient(a.url, token, "grpc");
  onB = modelClient(b.url, token, "grpc");
}, 120_000);
afterAll(async () => {
  abort.abort();
  await a?.dispose();
  await b?.dispose();
  await database?.drop();
});

/** Settles every call: its value, or the ConnectError code it failed with. */
async function outcomes<T>(calls: Array<Promise<T>>): Promise<Array<T | Code>> {
  return Promise.all(calls.map((c) => c.catch((e: unknown) => ConnectError.from(e).code)));
}

it("a write acknowledged by A is read on B at once: get, list (read cache included), and the system catalog both synced once", async () => {
  const listed = (await onB.listModels({ limit: 1000 })).items.length;
  const created = await onA.createModel({ model: { metadata: { name: "written-on-a" }, spec: { family: "f" } } });
  const id = created.metadata!.id;
  expect((await onB.getModel({ id })).metadata!.etag).toBe(created.metadata!.etag);
  expect((await onB.listModels({ limit: 1000 })).items.length).toBe(listed + 1);
  const renamed = await onA.updateModel({ id, model: { metadata: { name: "renamed-on-a" } }, updateMask: { paths: ["metadata.name"] } });
  expect((await onB.getModel({ id })).metadata!.name).toBe("renamed-on-a");
  expect((await onB.listModels({ limit: 1000 })).items.find((m) => m.metadata!.id === id)?.metadata!.etag).toBe(renamed.metadata!.etag);
  const system = (await onA.listModels({ limit: 1000 })).items.filter((m) => m.metadata!.origin === ModelOrigin.SYSTEM);
  expect(system.length).toBeGreaterThan(0);
  // Each system model copied once into the workspace, though both replicas synced the catalog and admitted it at once.
  expect(new Set(system.map((m) => m.metadata!.catalogId)).size).toBe(system.length);
});

it("concurrent updates with one etag on both replicas: exactly one wins, the others are Aborted", async () => {
  const created = await onA.createModel({ model: { metadata: { name: "contended" }, spec: { family: "f" } } });
  const id = created.metadata!.id;
  const etag = created.metadata!.etag;
  const results = await outcomes(
    Array.from({ length: 8 }, (_v, i) =>
      (i % 2 === 0 ? onA : onB).updateModel({ id, model: { metadata: { name: `writer-${i}`, etag } }, updateMask: { paths: ["metadata.name"] } }),
    ),
  );
  const winners = results.filter((r) => typeof r === "object");
  expect(winners).toHaveLength(1);
  expect(results.filter((r) => r === Code.Aborted)).toHaveLength(7);
  const now = await onB.getModel({ id });
  expect(now.metadata!.name).toBe((winners[0] as typeof created).metadata!.name);
});

it("concurrent creates with one request id on both replicas make one model, and every call answers it", async () => {
  const requestId = `req-${Date.now()}`;
  const body = { model: { metadata: { name: "once-only" }, spec: { family: "f" } }, requestId };
  const results = await Promise.all(Array.from({ length: 8 }, (_v, i) => (i % 2 === 0 ? onA : onB).createModel(body)));
  const ids = new Set(results.map((m) => m.metadata!.id));
  expect(ids.size).toBe(1);
  const all = await onB.listModels({ prefix: "once-only" });
  expect(all.items.filter((m) => m.metadata!.name === "once-only")).toHaveLength(1);
});

it("concurrent creates with one external id on both replicas: one model, the others AlreadyExists", async () => {
  const externalId = `ext-${Date.now()}`;
  const results = await outcomes(
    Array.from({ length: 8 }, (_v, i) =>
      (i % 2 === 0 ? onA : onB).createModel({ model: { metadata: { name: `ext-${i}`, externalId }, spec: { family: "f" } } }),
    ),
  );
  expect(results.filter((r) => typeof r === "object")).toHaveLength(1);
  expect(results.filter((r) => r === Code.AlreadyExists)).toHaveLength(7);
  const page = await onB.listModels({ filter: `metadata.externalId = "${externalId}"` });
  expect(page.items).toHaveLength(1);
});

it("a watcher on B sees every change made on A, in order", async () => {
  const log = new EventLog(fromStream(onB.watchModels({}, { signal: abort.signal })));
  await log.until((e) => e.length > 0);
  const names = Array.from({ length: 10 }, (_v, i) => `watched-${i}`);
  const ids: string[] = [];
  for (const name of names) ids.push((await onA.createModel({ model: { metadata: { name }, spec: { family: "f" } } })).metadata!.id);
  await log.until((e) => ids.every((id) => e.some((x) => x.id === id)));
  expect(log.changes().filter((x) => names.includes(x.name ?? "")).map((x) => x.name)).toEqual(names);
});

it("first writes to one virtual catalog copy on both replicas make one row, and every acknowledged write is in it", async () => {
  const ws = "ws_replicas_overlay";
  const [copyOnA, copyOnB] = [modelClient(a.url, await a.token(ws), "grpc"), modelClient(b.url, await b.token(ws), "grpc")];
  const target = (await copyOnA.listModels({ limit: 1 })).items[0]!;
  const id = target.metadata!.id;
  const results = await outcomes(
    Array.from({ length: 8 }, (_v, i) =>
      (i % 2 === 0 ? copyOnA : copyOnB).updateModel({ id, model: { metadata: { labels: { writer: `w${i}` } } }, updateMask: { paths: ["metadata.labels"] } }),
    ),
  );
  const won = results.filter((r): r is Model => typeof r === "object");
  expect(won.length).toBeGreaterThan(0);
  expect(results.filter((r) => typeof r !== "object" && r !== Code.Aborted)).toEqual([]);
  // Each acknowledged write is one revision of the one row, and the row holds the last of them.
  expect((await copyOnB.listModelRevisions({ id })).pagination!.total).toBe(won.length);
  const now = await copyOnB.getModel({ id });
  expect(won.map((m) => m.metadata!.etag)).toContain(now.metadata!.etag);
  expect(now.metadata!.labels).toEqual(won.find((m) => m.metadata!.etag === now.metadata!.etag)!.metadata!.labels);
  const db = openTestDatabase(database.url);
  try {
    const [row] = await db.all<{ n: number }>("SELECT count(*) AS n FROM models WHERE workspace_id = ? AND id = ?", [ws, id]);
    expect(Number(row!.n)).toBe(1);
  } finally {
    await db.close();
  }
});

it("a system model changed on A while B makes its copy a row: the row follows the change and keeps B's write", async () => {
  const ws = "ws_replicas_overlay_follow";
  const admin = modelClient(a.url, await a.token("ws_replicas"), "grpc");
  const copies = modelClient(b.url, await b.token(ws), "grpc");
  const targets = (await copies.listModels({ limit: 6 })).items;
  const systems = new Map((await admin.listSystemModels({ limit: 1000 })).items.map((m) => [m.metadata!.catalogId, m.metadata!.id]));
  const labelled = await outcomes(
    targets.flatMap((t, i) => [
      copies.updateModel({ id: t.metadata!.id, model: { metadata: { labels: { team: `t${i}` } } }, updateMask: { paths: ["metadata.labels"] } }),
      admin.updateSystemModel({
        id: systems.get(t.metadata!.catalogId)!,
        model: { metadata: { name: `followed-${i}` } },
        updateMask: { paths: ["metadata.name"] },
      }),
    ]),
  );
  for (const [i, t] of targets.entries()) {
    const now = await copies.getModel({ id: t.metadata!.id });
    expect(now.metadata!.name).toBe(`followed-${i}`);
    if (typeof labelled[2 * i] === "object") expect(now.metadata!.labels).toEqual({ team: `t${i}` });
    else expect(labelled[2 * i]).toBe(Code.Aborted);
  }
});

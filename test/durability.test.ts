import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus } from "../gen/modelservice/v1/model_pb.js";
import { ModelService, RevisionAction } from "../gen/modelservice/v1/model_service_pb.js";
import { scopes } from "../src/domain/auth/principal.js";
import { mintToken } from "../src/domain/auth/token-minter.js";
import { spawnServer, type ChildServer } from "./support/server-process.js";

/**
 * Issue #8, over real child processes of the server (src/main.ts through tsx):
 * acknowledged writes survive SIGKILL, two processes on one SQLite file never
 * lose an update nor leak SQLITE_BUSY as Internal, and deadlines end calls
 * cleanly with all-or-nothing database work.
 */

const secret = "durability-secret-durability-secret-0123456789";
const service = ModelService.typeName;

type ModelClient = Client<typeof ModelService>;

const children = new Set<ChildServer>();

/** Starts the server as a child process on a free port over dataDir and waits for /readyz. */
async function startChild(dataDir: string): Promise<ChildServer> {
  const child = await spawnServer({
    env: {
      MODELSERVICE_DATA_DIR: dataDir,
      MODELSERVICE_DB: join(dataDir, "modelservice.db"),
      MODELSERVICE_JWT_SECRET: secret,
      MODELSERVICE_SHUTDOWN_GRACE_MS: "1000",
    },
    readyWithinMs: 15_000,
  });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

function token(workspaceId: string): Promise<string> {
  return mintToken({
    secret: new TextEncoder().encode(secret),
    workspaceId,
    accountId: "acct_durability",
    profileId: "profile_durability",
    scope: scopes.join(" "),
    ttl: "1h",
  });
}

/** One Connect JSON unary call with fetch: the HTTP status and the parsed body. */
async function connectCall(
  url: string,
  bearer: string,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/${service}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function client(url: string, bearer: string, grpc = false): ModelClient {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${bearer}`);
    return next(req);
  };
  const interceptors = [auth];
  const transport = grpc
    ? createGrpcTransport({ baseUrl: url, interceptors })
    : createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors });
  return createClient(ModelService, transport);
}

function integrityCheck(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.pragma("integrity_check", { simple: true }) as string;
  } finally {
    db.close();
  }
}

/** The code name of a failed call ("ok" when it succeeded). */
async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (e) {
    return Code[ConnectError.from(e).code];
  }
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-durability-"));
  dirs.push(dir);
  return dir;
}


afterAll(async () => {
  await Promise.all([...children].map((c) => c.stop("SIGKILL")));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

describe("durability: acknowledged writes survive kill -9", () => {
  it("keeps every acknowledged create and status change across 3 SIGKILL cycles, and integrity_check is ok", async () => {
    const dir = tempDir();
    const dbPath = join(dir, "modelservice.db");
    const bearer = await token("ws_durability");

    /** externalId -> what the test knows of the model. */
    interface Known {
      id: string;
      /** The status of the last acknowledged write. */
      acked: string;
      /** A status change sent but not answered when the child died: it may or may not have committed. */
      pending?: string;
    }
    const known = new Map<string, Known>();
    const unackedCreates = new Set<string>();
    let acknowledged = 0;

    const verify = async (child: ChildServer) => {
      const seen = new Map<string, { id: string; status: string }>();
      let cursor = "";
      do {
        const res = await connectCall(child.url, bearer, "ListModels", { limit: 1000, cursor });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        for (const m of (res.body.items ?? []) as Array<{ metadata: { id: string; externalId?: string }; spec: { status: string } }>) {
          if (m.metadata.externalId) seen.set(m.metadata.externalId, { id: m.metadata.id, status: m.spec.status });
        }
        cursor = ((res.body.pagination as { nextCursor?: string } | undefined)?.nextCursor ?? "") as string;
      } while (cursor !== "");
      for (const [externalId, k] of known) {
        const found = seen.get(externalId);
        expect(found, `acknowledged create ${externalId} is missing`).toBeDefined();
        expect(found!.id).toBe(k.id);
        const allowed = k.pending === undefined ? [k.acked] : [k.acked, k.pending];
        expect(allowed, `status of ${externalId}`).toContain(found!.status);
        k.acked = found!.status;
        delete k.pending;
      }
      // An unanswered create may or may not be there; adopt those that are.
      for (const externalId of unackedCreates) {
        const found = seen.get(externalId);
        if (found) known.set(externalId, { id: found.id, acked: found.status });
      }
      unackedCreates.clear();
    };

    for (let cycle = 0; cycle < 3; cycle++) {
      const child = await startChild(dir);
      if (cycle > 0) {
        await verify(child);
        expect(integrityCheck(dbPath)).toBe("ok");
      }
      let stop = false;
      const writer = async (w: number) => {
        const mine: string[] = [];
        for (let i = 0; !stop; i++) {
          if (i % 3 === 2 && mine.length > 0) {
            const externalId = mine[Math.floor(Math.random() * mine.length)]!;
            const k = known.get(externalId)!;
            const next = k.acked === "MODEL_STATUS_ENABLED" ? "MODEL_STATUS_DISABLED" : "MODEL_STATUS_ENABLED";
            k.pending = next;
            let res;
            try {
              res = await connectCall(child.url, bearer, "SetModelStatus", { id: k.id, status: next });
            } catch {
              return; // the child died mid-call: the write stays pending
            }
            if (res.status !== 200) throw new Error(`SetModelStatus: ${res.status} ${JSON.stringify(res.body)}`);
            k.acked = (res.body.spec as { status: string }).status;
            expect(k.acked).toBe(next);
            delete k.pending;
            acknowledged++;
          } else {
            const externalId = `dur-${cycle}-${w}-${i}`;
            unackedCreates.add(externalId);
            let res;
            try {
              res = await connectCall(child.url, bearer, "CreateModel", {
                model: { metadata: { name: `Durable ${externalId}`, externalId }, spec: { provider: "acme" } },
              });
            } catch {
              return;
            }
            if (res.status !== 200) throw new Error(`CreateModel: ${res.status} ${JSON.stringify(res.body)}`);
            const m = res.body as { metadata: { id: string }; spec: { status: string } };
            unackedCreates.delete(externalId);
            known.set(externalId, { id: m.metadata.id, acked: m.spec.status });
            mine.push(externalId);
            acknowledged++;
          }
        }
      };
      const writers = [0, 1, 2, 3].map(writer);
      await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 1200)));
      child.proc.kill("SIGKILL");
      await child.exited;
      stop = true;
      await Promise.all(writers);
    }

    const last = await startChild(dir);
    await verify(last);
    expect(integrityCheck(dbPath)).toBe("ok");
    await last.stop("SIGTERM");
    expect(integrityCheck(dbPath)).toBe("ok");
    expect(acknowledged).toBeGreaterThan(10);
    expect(known.size).toBeGreaterThan(10);
  }, 45_000);
});

// ---------------------------------------------------------------------------

describe("two server processes on one database", () => {
  let dir: string;
  let a: ChildServer;
  let b: ChildServer;
  let bearer: string;

  beforeAll(async () => {
    dir = tempDir();
    bearer = await token("ws_two_procs");
    a = await startChild(dir);
    b = await startChild(dir);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a.stop("SIGTERM"), b.stop("SIGTERM")]);
    expect(integrityCheck(join(dir, "modelservice.db"))).toBe("ok");
  });

  it("a write by one process shows at once in the other's reads (its read cache holds nothing stale)", async () => {
    const ca = client(a.url, bearer);
    const cb = client(b.url, bearer);
    const created = await ca.createModel({ model: { metadata: { name: "Seen across", labels: { across: "yes" } }, spec: { provider: "acme" } } });
    const id = created.metadata!.id;
    for (let i = 0; i < 5; i++) {
      // Read twice on B, so that the second answer would come from its cache; then write on A.
      const before = await cb.getModel({ id });
      expect((await cb.getModel({ id })).metadata!.etag).toBe(before.metadata!.etag);
      await cb.listModels({ labels: "across=yes" });
      const listed = await cb.listModels({ labels: "across=yes" });
      const status = i % 2 === 0 ? ModelStatus.DISABLED : ModelStatus.ENABLED;
      const written = await ca.setModelStatus({ id, status });
      const after = await cb.getModel({ id });
      expect(after.metadata!.etag).toBe(written.metadata!.etag);
      expect(after.metadata!.etag).not.toBe(before.metadata!.etag);
      expect(after.spec!.status).toBe(status);
      const relisted = await cb.listModels({ labels: "across=yes" });
      expect(relisted.items.map((m) => m.spec!.status)).toEqual([status]);
      expect(relisted.items[0]!.metadata!.etag).not.toBe(listed.items[0]!.metadata!.etag);
    }
  });

  it("concurrent etag read-modify-write UpdateModel from both never loses an update", async () => {
    const ca = client(a.url, bearer);
    const cb = client(b.url, bearer);
    const created = await ca.createModel({ model: { metadata: { name: "Shared RMW" }, spec: { provider: "acme" } } });
    const id = created.metadata!.id;
    const codes: string[] = [];
    const written = new Set<string>();

    const worker = async (c: ModelClient, name: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const key = `${name}-${i}`;
        for (let attempt = 0; ; attempt++) {
          expect(attempt, `${key} kept failing: ${codes.join(",")}`).toBeLessThan(500);
          const current = await c.getModel({ id });
          try {
            await c.updateModel({
              id,
              model: { metadata: { etag: current.metadata!.etag, labels: { ...current.metadata!.labels, [key]: "v" } } },
              updateMask: { paths: ["metadata.labels"] },
            });
            codes.push("ok");
            written.add(key);
            break;
          } catch (e) {
            const code = Code[ConnectError.from(e).code];
            codes.push(code);
            if (code !== "Aborted" && code !== "Unavailable") throw e;
          }
        }
      }
    };
    await Promise.all([
      worker(ca, "a0", 8),
      worker(ca, "a1", 8),
      worker(ca, "a2", 8),
      worker(cb, "b0", 8),
      worker(cb, "b1", 8),
      worker(cb, "b2", 8),
    ]);

    expect(codes.filter((c) => c === "Internal" || c === "Unknown")).toEqual([]);
    expect(written.size).toBe(48);
    for (const c of [ca, cb]) {
      const final = await c.getModel({ id });
      expect(Object.keys(final.metadata!.labels).sort()).toEqual([...written].sort());
    }
    // Every acknowledged update is one revision, seen alike from both processes.
    const revisions = await ca.listModelRevisions({ id, limit: 1000 });
    expect(revisions.items.filter((r) => r.action === RevisionAction.UPDATE)).toHaveLength(48);
  }, 30_000);

  it("concurrent SetModelStatus from both gets clean answers and one revision per acknowledged change", async () => {
    const ca = client(a.url, bearer);
    const cb = client(b.url, bearer);
    const created = await ca.createModel({ model: { metadata: { name: "Shared status" }, spec: { provider: "acme" } } });
    const id = created.metadata!.id;
    const codes: string[] = [];
    const etags = new Set<string>();

    const worker = async (c: ModelClient, count: number) => {
      for (let i = 0; i < count; i++) {
        const status = Math.random() < 0.5 ? ModelStatus.ENABLED : ModelStatus.DISABLED;
        try {
          const m = await c.setModelStatus({ id, status });
          codes.push("ok");
          etags.add(m.metadata!.etag);
        } catch (e) {
          codes.push(Code[ConnectError.from(e).code]);
        }
      }
    };
    await Promise.all([worker(ca, 25), worker(ca, 25), worker(cb, 25), worker(cb, 25)]);

    expect(codes.filter((c) => !["ok", "Aborted", "Unavailable"].includes(c))).toEqual([]);
    expect(codes.filter((c) => c === "ok").length).toBeGreaterThan(0);
    // Each committed change has its own version (etag); a no-op answers an etag already made.
    etags.delete(created.metadata!.etag);
    const revisions = await cb.listModelRevisions({ id, limit: 1000 });
    expect(revisions.items.filter((r) => r.action === RevisionAction.SET_STATUS)).toHaveLength(etags.size);
    const final = [await ca.getModel({ id }), await cb.getModel({ id })];
    expect(final[0]!.metadata!.etag).toBe(final[1]!.metadata!.etag);
    expect(final[0]!.spec!.status).toBe(final[1]!.spec!.status);
  }, 30_000);
  it("a write blocked past busy_timeout by another process's lock is Unavailable, not Internal", async () => {
    const ca = client(a.url, bearer);
    const created = await ca.createModel({ model: { metadata: { name: "Locked out" }, spec: { provider: "acme" } } });
    // A third connection (this test) holds the write lock longer than the servers' 5 s busy_timeout.
    const holder = new Database(join(dir, "modelservice.db"));
    holder.exec("BEGIN IMMEDIATE");
    const started = Date.now();
    let code: string;
    try {
      code = await codeOf(ca.setModelStatus({ id: created.metadata!.id, status: ModelStatus.DISABLED }));
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect(code).toBe("Unavailable");
    // Once the lock is gone the same write goes through.
    const m = await ca.setModelStatus({ id: created.metadata!.id, status: ModelStatus.DISABLED });
    expect(m.spec!.status).toBe(ModelStatus.DISABLED);
  }, 20_000);
});

// ---------------------------------------------------------------------------

describe("deadlines", () => {
  let dir: string;
  let child: ChildServer;
  let bearer: string;
  const bulk = 1000;

  beforeAll(async () => {
    dir = tempDir();
    bearer = await token("ws_deadlines");
    child = await startChild(dir);
    // Enough models (created outside of any deadline) that listing them all takes well over a millisecond.
    const requests = Array.from({ length: bulk }, (_, i) => ({
      model: { metadata: { name: `Bulk ${i}`, labels: { bulk: "yes" } }, spec: { provider: "acme" } },
    }));
    await client(child.url, bearer).batchCreateModels({ requests });
  }, 60_000);
  afterAll(async () => {
    await child.stop("SIGTERM");
    expect(integrityCheck(join(dir, "modelservice.db"))).toBe("ok");
  });

  // The deadlines below travel as plain headers, so the clients never time out on their own:
  // every DeadlineExceeded seen here was decided by the server.
  it("connect-timeout-ms: a list that takes longer than its deadline ends deadline_exceeded", async () => {
    for (let i = 0; i < 5; i++) {
      // A filter of its own per call, so that no answer comes from the read cache.
      const res = await connectCall(child.url, bearer, "ListModels", { limit: 1000, filter: `name != "none-${i}"` }, { "connect-timeout-ms": "1" });
      expect(res.status).toBe(504);
      expect(res.body.code).toBe("deadline_exceeded");
    }
    const roomy = await connectCall(child.url, bearer, "ListModels", { limit: 1000 }, { "connect-timeout-ms": "20000" });
    expect(roomy.status).toBe(200);
    expect((roomy.body.items as unknown[]).length).toBe(1000);
  });

  it("grpc-timeout: a list that takes longer than its deadline ends DeadlineExceeded", async () => {
    const c = client(child.url, bearer, true);
    for (let i = 0; i < 5; i++) {
      const filter = `name != "none-grpc-${i}"`;
      expect(await codeOf(c.listModels({ limit: 1000, filter }, { headers: { "grpc-timeout": "1m" } }))).toBe("DeadlineExceeded");
    }
    const roomy = await c.listModels({ limit: 1000 }, { headers: { "grpc-timeout": "20S" } });
    expect(roomy.items.length).toBe(1000);
  });

  it("a streamed export past its deadline ends DeadlineExceeded", async () => {
    const c = client(child.url, bearer, true);
    const read = async () => {
      for await (const chunk of c.exportModels({}, { headers: { "grpc-timeout": "1m" } })) void chunk;
    };
    expect(await codeOf(read())).toBe("DeadlineExceeded");
  });

  async function countLabelled(tag: string): Promise<number> {
    const res = await client(child.url, bearer).listModels({ limit: 1, labels: `deadline=${tag}`, showDeleted: true });
    return res.pagination!.total!;
  }

  /** The count once it stops changing (a write answered by the deadline may still be finishing). */
  async function settledCount(tag: string): Promise<number> {
    let previous = await countLabelled(tag);
    for (;;) {
      await new Promise((r) => setTimeout(r, 300));
      const now = await countLabelled(tag);
      if (now === previous) return now;
      previous = now;
    }
  }

  for (const protocol of ["connect", "grpc"] as const) {
    it(`a batchCreate of 1000 (${protocol}): DeadlineExceeded means none written, OK means all`, async () => {
      for (const timeoutMs of [1, 5, 20, 60_000]) {
        const tag = `${protocol}-${timeoutMs}-${Math.random().toString(36).slice(2, 8)}`;
        const requests = Array.from({ length: 1000 }, (_, i) => ({
          model: { metadata: { name: `Deadline ${tag} ${i}`, labels: { deadline: tag } }, spec: { provider: "acme" } },
        }));
        let code: string;
        if (protocol === "connect") {
          const res = await connectCall(child.url, bearer, "BatchCreateModels", { requests }, { "connect-timeout-ms": String(timeoutMs) });
          code = res.status === 200 ? "ok" : String(res.body.code);
          expect(["ok", "deadline_exceeded"], JSON.stringify(res.body).slice(0, 300)).toContain(code);
        } else {
          const grpcTimeout = `${timeoutMs}m`;
          code = await codeOf(client(child.url, bearer, true).batchCreateModels({ requests }, { headers: { "grpc-timeout": grpcTimeout } }));
          expect(["ok", "DeadlineExceeded"]).toContain(code);
        }
        // Planning and writing 1000 models takes far longer than 1 ms, and a minute is ample.
        if (timeoutMs === 1) expect(code).not.toBe("ok");
        if (timeoutMs === 60_000) expect(code).toBe("ok");
        expect(await settledCount(tag), `${code} after ${timeoutMs} ms`).toBe(code === "ok" ? 1000 : 0);
      }
    }, 60_000);
  }
});

import { toBinary, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelOrigin, ModelSchema, ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import { bundledCatalog } from "./support/catalog.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { testStore } from "./support/postgres.js";
import { jwtSecret, startTestService, type TestService } from "./support/service.js";
import { openTestDatabase } from "./support/test-database.js";

// ---------------------------------------------------------------- helpers

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const rpcPrefix = "/modelservice.v1.ModelService/";
const fingerprintPattern = /^fp_[0-9a-f]{12}$/;
const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const noAdminScope = "models:read models:create models:update models:delete";

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

async function raw(res: Response): Promise<RawResponse> {
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A Connect unary call with a JSON body, sent by hand so the test sees the exact bytes the service wrote. */
async function connectJson(service: TestService, token: string, method: string, body: unknown): Promise<RawResponse> {
  return raw(
    await fetch(service.url + rpcPrefix + method, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

/** A REST call (grpc-gateway style transcoding). */
async function rest(service: TestService, token: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  return raw(
    await fetch(service.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

function ok<T>(r: RawResponse): T {
  expect(r.status, r.text).toBe(200);
  return JSON.parse(r.text) as T;
}

async function connectError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

/** Starts a second test service on the data directory and database of an earlier one (the harness lets env override both). */
function startOn(earlier: TestService, env: Record<string, string>): Promise<TestService> {
  return startTestService({ ...env, MODELSERVICE_DATA_DIR: earlier.dir, MODELSERVICE_DB: earlier.database });
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `npm run rotate-keys` as operators do, as a child process on a stopped service's data directory and database. */
function rotateKeys(stopped: TestService, key: string, oldKeys?: string): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MODELSERVICE_DATA_DIR: stopped.dir,
    MODELSERVICE_DB: stopped.database,
    MODELSERVICE_JWT_SECRET: jwtSecret,
    MODELSERVICE_ENCRYPTION_KEY: key,
  };
  delete env.MODELSERVICE_ENCRYPTION_KEYS_OLD;
  if (oldKeys !== undefined) env.MODELSERVICE_ENCRYPTION_KEYS_OLD = oldKeys;
  return new Promise((resolve) => {
    execFile("npx", ["tsx", "src/ops/rotate-keys.ts"], { cwd: repoRoot, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function newKey(): string {
  return randomBytes(32).toString("base64");
}

// ---------------------------------------------------------------- A. secrets never leave the service

interface ModelJson {
  metadata: { id: string; name: string; etag: string; deleteTime?: string; catalogId?: string };
  spec: {
    hasToken: boolean;
    hasClientKey: boolean;
    credentialFingerprint?: string;
    credentialsUpdatedAt?: string;
    credentials?: unknown;
    modelUrl?: string;
  };
}
interface ListJson {
  items: ModelJson[];
}

describe("A. secrets never leave the service", () => {
  const tag = randomBytes(6).toString("hex");
  const secrets = {
    connectToken: `sk-SECRET-TOKEN-connect-${tag}`,
    grpcClientKey: `ck-SECRET-CLIENT-grpc-${tag}`,
    grpcSecretKey: `sk-SECRET-KEY-grpc-${tag}`,
    restToken: `sk-SECRET-TOKEN-rest-${tag}`,
    rotatedToken: `sk-SECRET-TOKEN-rotated-${tag}`,
    restRotatedToken: `sk-SECRET-TOKEN-rest-rotated-${tag}`,
    patchedClientKey: `ck-SECRET-CLIENT-patched-${tag}`,
    patchedSecretKey: `sk-SECRET-KEY-patched-${tag}`,
    grpcUpdatedToken: `sk-SECRET-TOKEN-grpc-updated-${tag}`,
    refusedToken: `sk-SECRET-TOKEN-refused-${tag}`,
  };
  /** Every form of each secret a leak could take: the text, base64 and base64url. */
  const needles = [
    ...new Set(Object.values(secrets).flatMap((s) => [s, Buffer.from(s, "utf8").toString("base64"), Buffer.from(s, "utf8").toString("base64url")])),
  ].map((text) => Buffer.from(text, "utf8"));
  function leaks(haystack: string | Buffer | Uint8Array): string[] {
    const buf = typeof haystack === "string" ? Buffer.from(haystack, "utf8") : Buffer.from(haystack);
    return needles.filter((n) => buf.includes(n)).map((n) => n.toString("utf8"));
  }
  const ws = "ws_secrets";
  const workspaceName = `secret-model-${tag}`;
  let service: TestService;
  let token: string;
  /** Every response body the test saw, by call. */
  const seen: Array<{ call: string; body: string | Buffer }> = [];
  const ids: Record<string, string> = {};

  function record(call: string, r: RawResponse): RawResponse {
    seen.push({ call, body: r.text });
    return r;
  }
  function recordMessage(call: string, m: Model): Model {
    seen.push({ call: call + " (json)", body: JSON.stringify(toJson(ModelSchema, m)) });
    seen.push({ call: call + " (binary)", body: Buffer.from(toBinary(ModelSchema, m)) });
    return m;
  }
  function expectFlags(m: ModelJson, flags: { hasToken: boolean; hasClientKey: boolean }): void {
    expect(m.spec.hasToken).toBe(flags.hasToken);
    expect(m.spec.hasClientKey).toBe(flags.hasClientKey);
    expect(m.spec.credentials).toBeUndefined();
    expect(m.spec.credentialFingerprint).toMatch(fingerprintPattern);
    expect(m.spec.credentialsUpdatedAt).toMatch(rfc3339);
  }

  beforeAll(async () => {
    service = await startTestService();
    token = await service.token(ws);
  });
  afterAll(() => service.dispose());

  it("CreateModel over Connect JSON, gRPC and REST returns only flags and a fingerprint", async () => {
    const viaConnect = ok<ModelJson>(
      record(
        "Connect CreateModel",
        await connectJson(service, token, "CreateModel", {
          model: {
            metadata: { name: `${workspaceName}-connect` },
            spec: { modelUrl: "https://api.example.com/v1", credentials: { token: secrets.connectToken } },
          },
        }),
      ),
    );
    expectFlags(viaConnect, { hasToken: true, hasClientKey: false });
    ids.connect = viaConnect.metadata.id;

    const grpc = modelClient(service.url, token, "grpc");
    const viaGrpc = recordMessage(
      "gRPC CreateModel",
      await grpc.createModel({
        model: {
          metadata: { name: `${workspaceName}-grpc` },
          spec: { modelUrl: "https://api.example.com/v1", credentials: { clientKey: secrets.grpcClientKey, secretKey: secrets.grpcSecretKey } },
        },
      }),
    );
    expect(viaGrpc.spec?.hasClientKey).toBe(true);
    expect(viaGrpc.spec?.hasToken).toBe(false);
    expect(viaGrpc.spec?.credentials).toBeUndefined();
    expect(viaGrpc.spec?.credentialFingerprint).toMatch(fingerprintPattern);
    expect(viaGrpc.spec?.credentialsUpdatedAt).toBeDefined();
    ids.grpc = viaGrpc.metadata!.id;

    const viaRest = ok<ModelJson>(
      record(
        "REST POST /v1/models",
        await rest(service, token, "POST", "/v1/models", {
          metadata: { name: `${workspaceName}-rest` },
          spec: { modelUrl: "https://api.example.com/v1", credentials: { token: secrets.restToken } },
        }),
      ),
    );
    expectFlags(viaRest, { hasToken: true, hasClientKey: false });
    ids.rest = viaRest.metadata.id;

    // Different secrets, different fingerprints.
    expect(new Set([viaConnect.spec.credentialFingerprint, viaGrpc.spec?.credentialFingerprint, viaRest.spec.credentialFingerprint]).size).toBe(3);
  });

  it("a refused write does not echo the secret it carried", async () => {
    const r = record(
      "Connect CreateModel (bad modelUrl)",
      await connectJson(service, token, "CreateModel", {
        model: { metadata: { name: "refused" }, spec: { modelUrl: "ftp://nope.example.com", credentials: { token: secrets.refusedToken } } },
      }),
    );
    expect(r.status).toBe(400);
    const patch = record(
      "REST PATCH without spec.credentials in the mask",
      await rest(service, token, "PATCH", `/v1/models/${ids.rest}?updateMask=metadata.name`, {
        metadata: { name: "x" },
        spec: { credentials: { token: secrets.refusedToken } },
      }),
    );
    expect(patch.status).toBe(400);
  });

  it("Get and List over Connect JSON, gRPC and REST show flags, fingerprint and time, never the secret", async () => {
    for (const id of Object.values(ids)) {
      const viaConnect = ok<ModelJson>(record(`Connect GetModel ${id}`, await connectJson(service, token, "GetModel", { id })));
      const viaRest = ok<ModelJson>(record(`REST GET /v1/models/${id}`, await rest(service, token, "GET", `/v1/models/${id}`)));
      expect(viaRest.spec.credentialFingerprint).toBe(viaConnect.spec.credentialFingerprint);
      expect(viaConnect.spec.credentialFingerprint).toMatch(fingerprintPattern);
      expect(viaConnect.spec.credentialsUpdatedAt).toMatch(rfc3339);
      expect(viaConnect.spec.credentials).toBeUndefined();
      recordMessage(`gRPC GetModel ${id}`, await modelClient(service.url, token, "grpc").getModel({ id }));
    }
    const list = ok<ListJson>(record("Connect ListModels", await connectJson(service, token, "ListModels", { limit: 1000 })));
    const mine = list.items.filter((m) => Object.values(ids).includes(m.metadata.id));
    expect(mine).toHaveLength(3);
    for (const m of mine) expect(m.spec.credentialFingerprint).toMatch(fingerprintPattern);
    ok<ListJson>(record("REST GET /v1/models", await rest(service, token, "GET", `/v1/models?limit=1000`)));
    ok<ListJson>(record("REST GET /v1/workspaces/…/models", await rest(service, token, "GET", `/v1/workspaces/${ws}/models?query=${tag}`)));
    const grpcList = await modelClient(service.url, token, "grpc").listModels({ limit: 1000 });
    for (const m of grpcList.items) recordMessage("gRPC ListModels item", m);
  });

  it("Update, Rotate, Duplicate, Delete and ListModelRevisions never return the secrets", async () => {
    // Update without touching credentials keeps them.
    const renamed = ok<ModelJson>(
      record(
        "Connect UpdateModel (name)",
        await connectJson(service, token, "UpdateModel", { id: ids.connect, model: { metadata: { name: `${workspaceName}-renamed` } }, updateMask: "metadata.name" }),
      ),
    );
    expectFlags(renamed, { hasToken: true, hasClientKey: false });

    // Update whose mask names the credentials: REST, token -> client key pair.
    const before = ok<ModelJson>(await rest(service, token, "GET", `/v1/models/${ids.rest}`));
    const patched = ok<ModelJson>(
      record(
        "REST PATCH spec.credentials",
        await rest(service, token, "PATCH", `/v1/models/${ids.rest}?updateMask=spec.credentials`, {
          spec: { credentials: { clientKey: secrets.patchedClientKey, secretKey: secrets.patchedSecretKey } },
        }),
      ),
    );
    expectFlags(patched, { hasToken: false, hasClientKey: true });
    expect(patched.spec.credentialFingerprint).not.toBe(before.spec.credentialFingerprint);

    // gRPC update of the credentials.
    const grpc = modelClient(service.url, token, "grpc");
    const grpcUpdated = recordMessage(
      "gRPC UpdateModel spec.credentials",
      await grpc.updateModel({ id: ids.grpc, model: { spec: { credentials: { token: secrets.grpcUpdatedToken } } }, updateMask: { paths: ["spec.credentials"] } }),
    );
    expect(grpcUpdated.spec?.hasToken).toBe(true);
    expect(grpcUpdated.spec?.hasClientKey).toBe(false);

    // Rotate over Connect JSON and REST.
    const rotated = ok<ModelJson>(
      record(
        "Connect RotateModelCredentials",
        await connectJson(service, token, "RotateModelCredentials", { id: ids.connect, credentials: { token: secrets.rotatedToken } }),
      ),
    );
    expectFlags(rotated, { hasToken: true, hasClientKey: false });
    expect(rotated.spec.credentialFingerprint).not.toBe(renamed.spec.credentialFingerprint);
    const restRotated = ok<ModelJson>(
      record(
        "REST :rotateCredentials",
        await rest(service, token, "POST", `/v1/models/${ids.rest}:rotateCredentials`, { credentials: { token: secrets.restRotatedToken } }),
      ),
    );
    expectFlags(restRotated, { hasToken: true, hasClientKey: false });

    // Duplicate with the credentials: the copy has the same secret (same fingerprint) under its own id.
    const dup = ok<ModelJson>(
      record("Connect DuplicateModel", await connectJson(service, token, "DuplicateModel", { id: ids.connect, copyCredentials: true })),
    );
    expectFlags(dup, { hasToken: true, hasClientKey: false });
    expect(dup.spec.credentialFingerprint).toBe(rotated.spec.credentialFingerprint);
    expect(dup.metadata.id).not.toBe(ids.connect);
    ids.duplicate = dup.metadata.id;
    const restDup = ok<ModelJson>(
      record("REST :duplicate", await rest(service, token, "POST", `/v1/models/${ids.grpc}:duplicate`, { copyCredentials: true, name: "dup-rest" })),
    );
    expect(restDup.spec.credentialFingerprint).toBe(grpcUpdated.spec?.credentialFingerprint);
    ids.restDuplicate = restDup.metadata.id;

    // Revisions of every model, over both surfaces.
    for (const id of Object.values(ids)) {
      ok(record(`Connect ListModelRevisions ${id}`, await connectJson(service, token, "ListModelRevisions", { id })));
      ok(record(`REST revisions ${id}`, await rest(service, token, "GET", `/v1/models/${id}/revisions`)));
    }

    // Delete over both surfaces; a deleted model still reads without its secrets.
    const deleted = ok<ModelJson>(record("Connect DeleteModel", await connectJson(service, token, "DeleteModel", { id: ids.duplicate })));
    expect(deleted.metadata.deleteTime).toMatch(rfc3339);
    ok(record("REST DELETE", await rest(service, token, "DELETE", `/v1/models/${ids.restDuplicate}`)));
    ok(record("REST GET deleted", await rest(service, token, "GET", `/v1/models/${ids.restDuplicate}`)));
    ok(record("REST list showDeleted", await rest(service, token, "GET", `/v1/models?showDeleted=true&limit=1000`)));

    // The search itself works: it finds a secret in clear and in base64.
    expect(leaks(`…${secrets.connectToken}…`)).toEqual([secrets.connectToken]);
    expect(leaks(Buffer.from(secrets.restToken).toString("base64"))).toHaveLength(1);
    const leaked = seen.map((s) => ({ call: s.call, leaks: leaks(s.body) })).filter((s) => s.leaks.length > 0);
    expect(leaked).toEqual([]);
    expect(seen.length).toBeGreaterThan(30);
  });

  it("no log line holds a secret", () => {
    const logs = JSON.stringify(service.logs);
    expect(logs).toContain("CreateModel"); // the calls were logged
    expect(leaks(logs)).toEqual([]);
  });

  it("the database holds no secret, in clear or base64: on PostgreSQL in no row of any table", async () => {
    const stored = openTestDatabase(service.database, { readonly: true });
    const rows = JSON.stringify(await stored.tables(), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v));
    await stored.close();
    // Positive control: the search does find what is stored in clear (a model name).
    expect(rows).toContain(`${workspaceName}-renamed`);
    expect(leaks(rows)).toEqual([]);
  });

  // SQLite only: it reads the bytes of the database file, free pages included; PostgreSQL's files belong to its server (the test above covers its rows).
  it.skipIf(testStore() === "postgres")("the SQLite file and its WAL hold no secret, in clear or base64, in free pages too", async () => {
    const db = service.database;
    const files = [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f));
    expect(files).toContain(db);
    expect(files).toContain(`${db}-wal`); // WAL journal: the recent pages are there while the service runs
    const contents = files.map((f) => ({ file: f, bytes: readFileSync(f) }));
    // Positive control: the search does find what is stored in clear (a model name).
    expect(contents.some((c) => c.bytes.includes(Buffer.from(`${workspaceName}-renamed`)))).toBe(true);
    expect(contents.map((c) => ({ file: c.file, leaks: leaks(c.bytes) }))).toEqual(contents.map((c) => ({ file: c.file, leaks: [] })));

    // After a clean stop the WAL is checkpointed into the main file: still nothing.
    await service.stop();
    const after = [db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => ({ file: f, leaks: leaks(readFileSync(f)) }));
    expect(after).toEqual(after.map((a) => ({ file: a.file, leaks: [] })));
    expect(leaks(JSON.stringify(service.logs))).toEqual([]);
    await service.restart();
  });
});

// ---------------------------------------------------------------- B. key rotation and key errors

describe("B. encryption keys: rotation, wrong keys, tampering", () => {
  const keyA = newKey();
  const keyB = newKey();
  const keyC = newKey();
  const keyD = newKey();
  const secret = `sk-SECRET-TOKEN-rotation-${randomBytes(6).toString("hex")}`;
  const ws = "ws_keys";
  let first: TestService; // owns the data directory
  let modelId: string;
  let fp: string;
  const others: TestService[] = [];

  async function on(env: Record<string, string>): Promise<{ service: TestService; client: ModelClient }> {
    const service = await startOn(first, env);
    others.push(service);
    return { service, client: modelClient(service.url, await service.token(ws)) };
  }

  async function keyIds(): Promise<Map<string, string>> {
    const db = openTestDatabase(first.database, { readonly: true });
    try {
      const rows = await db.all<{ id: string; credentials_key_id: string }>("SELECT id, credentials_key_id FROM models WHERE credentials_blob IS NOT NULL");
      return new Map(rows.map((r) => [r.id, r.credentials_key_id]));
    } finally {
      await db.close();
    }
  }

  beforeAll(async () => {
    first = await startTestService({ MODELSERVICE_ENCRYPTION_KEY: keyA });
    const client = modelClient(first.url, await first.token(ws));
    const m = await client.createModel({
      model: { metadata: { name: "sealed under A" }, spec: { modelUrl: "https://api.example.com/v1", credentials: { token: secret } } },
    });
    modelId = m.metadata!.id;
    fp = m.spec!.credentialFingerprint!;
    await first.stop();
  });
  afterAll(async () => {
    for (const s of others) await s.dispose();
    await first.dispose();
  });

  it("a service whose key cannot open the credentials answers FailedPrecondition naming the model, and keeps serving", async () => {
    const { service, client } = await on({ MODELSERVICE_ENCRYPTION_KEY: keyC });
    const err = await connectError(client.duplicateModel({ id: modelId, copyCredentials: true }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain(modelId);
    for (const text of [secret, keyA, keyC]) expect(err.rawMessage).not.toContain(text);

    // REST: 400 with google.rpc.Status code 9, not retried by the SDKs.
    const r = await rest(service, await service.token(ws), "POST", `/v1/models/${modelId}:duplicate`, { copyCredentials: true });
    expect(r.status, r.text).toBe(400);
    expect((JSON.parse(r.text) as { code: number }).code).toBe(Code.FailedPrecondition);
    expect(r.headers.get("x-should-retry")).toBe("false");
    expect(r.text).toContain(modelId);
    expect(r.text).not.toContain(secret);

    // The service keeps serving, and everything but the secrets still works.
    const list = await client.listModels({ limit: 1000 });
    expect(list.items.map((m) => m.metadata!.id)).toContain(modelId);
    const got = await client.getModel({ id: modelId });
    expect(got.spec?.hasToken).toBe(true);
    expect(got.spec?.credentialFingerprint).toBe(fp);
    const noSecrets = await client.duplicateModel({ id: modelId, copyCredentials: false });
    expect(noSecrets.spec?.hasToken).toBe(false);

    expect(JSON.stringify(service.logs)).not.toContain(secret);
    expect(service.logs.filter((l) => l.code === "internal" || l.code === "unknown")).toEqual([]);
    await service.stop();
  });

  it("rotate-keys with a wrong key exits 1 and names the model it cannot open", async () => {
    const [noOld, wrongOld] = await Promise.all([rotateKeys(first, keyC), rotateKeys(first, keyC, keyD)]);
    for (const run of [noOld, wrongOld]) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(`error: credentials of model "${modelId}" cannot be opened: `);
      expect(run.stdout).toMatch(/re-sealed 0\b/);
      expect(run.stdout).toMatch(/failed: 1\b/);
      for (const text of [secret, keyA, keyC, keyD]) expect(run.stdout + run.stderr).not.toContain(text);
    }
  });

  it("before rotation, key B with A as an old key opens what A sealed", async () => {
    const { client } = await on({ MODELSERVICE_ENCRYPTION_KEY: keyB, MODELSERVICE_ENCRYPTION_KEYS_OLD: keyA });
    const copy = await client.duplicateModel({ id: modelId, copyCredentials: true, name: "copy under B+A" });
    expect(copy.spec?.hasToken).toBe(true);
    expect(copy.spec?.credentialFingerprint).toBe(fp);
    await others[others.length - 1]!.stop();
  });

  it("rotate-keys B (old A) re-seals the model, then key B alone opens it and key A no longer does", async () => {
    const before = await keyIds();
    const run = await rotateKeys(first, keyB, keyA);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/re-sealed 1\b/); // the copy made under B+A was already under B
    expect(run.stdout).toMatch(/failed: 0\b/);
    expect(run.stdout + run.stderr).not.toContain(secret);
    const after = await keyIds();
    expect(new Set(after.values()).size).toBe(1);
    expect(after.get(modelId)).not.toBe(before.get(modelId));

    // Running it again changes nothing.
    const again = await rotateKeys(first, keyB, keyA);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/re-sealed 0\b/);

    const { client } = await on({ MODELSERVICE_ENCRYPTION_KEY: keyB });
    const copy = await client.duplicateModel({ id: modelId, copyCredentials: true, name: "copy under B" });
    expect(copy.spec?.hasToken).toBe(true);
    expect(copy.spec?.credentialFingerprint).toBe(fp);
    await others[others.length - 1]!.stop();

    const { client: clientA } = await on({ MODELSERVICE_ENCRYPTION_KEY: keyA });
    const err = await connectError(clientA.duplicateModel({ id: modelId, copyCredentials: true }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain(modelId);
    await others[others.length - 1]!.stop();
  });

  describe("tampered ciphertext", () => {
    let service: TestService;
    let client: ModelClient;
    const tamperSecret = `sk-SECRET-TOKEN-tamper-${randomBytes(6).toString("hex")}`;
    const cases: Array<{ name: string; tamper: (blob: Buffer, other: Buffer) => Buffer; id?: string }> = [
      { name: "a flipped ciphertext byte", tamper: (b) => flip(b, b.length - 1) },
      { name: "a flipped format byte", tamper: (b) => flip(b, 0) },
      { name: "a flipped IV byte", tamper: (b) => flip(b, 5) },
      { name: "a flipped tag byte", tamper: (b) => flip(b, 20) },
      { name: "a truncated blob", tamper: (b) => b.subarray(0, 10) },
      { name: "another model's blob", tamper: (_b, other) => other },
    ];
    function flip(b: Buffer, at: number): Buffer {
      const out = Buffer.from(b);
      out[at] = out[at]! ^ 0x01;
      return out;
    }

    beforeAll(async () => {
      service = await startTestService({ MODELSERVICE_ENCRYPTION_KEY: keyA });
      client = modelClient(service.url, await service.token(ws));
      for (const c of cases) {
        const m = await client.createModel({
          model: { metadata: { name: `tamper: ${c.name}` }, spec: { modelUrl: "https://api.example.com/v1", credentials: { token: tamperSecret } } },
        });
        c.id = m.metadata!.id;
      }
      const intact = await client.createModel({
        model: { metadata: { name: "intact" }, spec: { modelUrl: "https://api.example.com/v1", credentials: { token: tamperSecret } } },
      });
      await service.stop();
      const db = openTestDatabase(service.database);
      try {
        const blobOf = async (id: string) =>
          Buffer.from((await db.all<{ credentials_blob: Uint8Array }>("SELECT credentials_blob FROM models WHERE id = ?", [id]))[0]!.credentials_blob);
        const other = await blobOf(intact.metadata!.id);
        for (const c of cases) await db.run("UPDATE models SET credentials_blob = ? WHERE id = ?", [c.tamper(await blobOf(c.id!), other), c.id!]);
      } finally {
        await db.close();
      }
      await service.restart();
    });
    afterAll(() => service.dispose());

    it.each(cases)("$name: DuplicateModel with credentials is FailedPrecondition naming the model, never Internal", async (c) => {
      const err = await connectError(client.duplicateModel({ id: c.id!, copyCredentials: true }));
      expect(err.code, err.message).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toContain(c.id!);
      expect(err.rawMessage).not.toContain(tamperSecret);
      // The model itself still reads, and the service still serves.
      expect((await client.getModel({ id: c.id! })).spec?.hasToken).toBe(true);
    });

    it("the service logged no internal error and no secret", async () => {
      expect((await client.listModels({ limit: 1 })).items).toHaveLength(1);
      expect(service.logs.filter((l) => l.code === "internal" || l.code === "unknown" || (l.level as number) >= 50)).toEqual([]);
      expect(JSON.stringify(service.logs)).not.toContain(tamperSecret);
    });
  });
});

// ---------------------------------------------------------------- C. system models

describe("C. system models", () => {
  const catalog = bundledCatalog();
  let service: TestService;
  let admin: ModelClient;
  const clients: Record<string, ModelClient> = {};
  let sys: Model;
  /** Workspace -> id of its copy of `sys`. */
  const copies: Record<string, string> = {};

  async function clientOf(ws: string): Promise<ModelClient> {
    clients[ws] ??= modelClient(service.url, await service.token(ws, { scope: noAdminScope }));
    return clients[ws]!;
  }
  async function listOf(ws: string, showDeleted = false): Promise<Model[]> {
    const res = await (await clientOf(ws)).listModels({ limit: 1000, showDeleted });
    expect(res.pagination?.nextCursor ?? "").toBe("");
    return res.items;
  }
  function copyIn(items: Model[]): Model | undefined {
    const found = items.filter((m) => m.metadata?.catalogId === sys.metadata!.id);
    expect(found.length).toBeLessThanOrEqual(1);
    return found[0];
  }
  async function copyRows(ws: string): Promise<number> {
    const db = openTestDatabase(service.database, { readonly: true });
    try {
      const [row] = await db.all<{ n: number }>("SELECT count(*) AS n FROM models WHERE workspace_id = ? AND system_model_id = ?", [ws, sys.metadata!.id]);
      return Number(row!.n);
    } finally {
      await db.close();
    }
  }

  beforeAll(async () => {
    service = await startTestService();
    admin = modelClient(service.url, await service.token("ws_platform_admin"));
  });
  afterAll(() => service.dispose());

  it("ListSystemModels shows the shipped catalog: origin SYSTEM, visible, no status", async () => {
    const res = await admin.listSystemModels({ limit: 1000 });
    expect(res.pagination?.total).toBe(catalog.length);
    expect(res.items.map((m) => m.metadata!.catalogId).sort()).toEqual(catalog.map((e) => e.catalogId).sort());
    for (const m of res.items) {
      expect(m.metadata?.origin).toBe(ModelOrigin.SYSTEM);
      expect(m.metadata?.workspaceId).toBe("");
      expect(m.spec?.visible).toBe(true);
      expect(m.spec?.status).toBeUndefined();
    }
    const one = await admin.getSystemModel({ id: res.items[0]!.metadata!.id });
    expect(one).toEqual(res.items[0]);
    // REST, and the JSON has no status at all.
    const r = await rest(service, await service.token("ws_platform_admin"), "GET", "/v1/system/models?limit=1000");
    const body = ok<{ items: Array<{ spec: Record<string, unknown>; metadata: Record<string, unknown> }> }>(r);
    expect(body.items).toHaveLength(catalog.length);
    for (const m of body.items) {
      expect(m.spec.status).toBeUndefined();
      expect(m.spec.visible).toBe(true);
      expect(m.metadata.origin).toBe("MODEL_ORIGIN_SYSTEM");
    }
  });

  it("a token without models:admin gets PermissionDenied on every system RPC", async () => {
    const c = await clientOf("ws_sys_nonadmin");
    const existing = (await admin.listSystemModels({ limit: 1 })).items[0]!;
    const id = existing.metadata!.id;
    // Each call made when awaited: a call failing while an earlier one is awaited would be an unhandled rejection.
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["ListSystemModels", () => c.listSystemModels({})],
      ["GetSystemModel", () => c.getSystemModel({ id })],
      ["CreateSystemModel", () => c.createSystemModel({ model: { metadata: { name: "sneaky" }, spec: { provider: "x", family: "y" } } })],
      ["UpdateSystemModel", () => c.updateSystemModel({ id, model: { spec: { family: "hijacked" } }, updateMask: { paths: ["spec.family"] } })],
      ["DeleteSystemModel", () => c.deleteSystemModel({ id })],
    ];
    for (const [name, call] of calls) {
      const err = await connectError(call());
      expect(err.code, `${name}: ${err.message}`).toBe(Code.PermissionDenied);
    }
    const token = await service.token("ws_sys_nonadmin", { scope: noAdminScope });
    for (const [method, path] of [
      ["GET", "/v1/system/models"],
      ["GET", `/v1/system/models/${id}`],
      ["POST", "/v1/system/models"],
      ["PATCH", `/v1/system/models/${id}?updateMask=spec.family`],
      ["DELETE", `/v1/system/models/${id}`],
    ] as const) {
      const r = await rest(service, token, method, path, method === "POST" || method === "PATCH" ? { spec: { family: "z" } } : undefined);
      expect(r.status, `${method} ${path}: ${r.text}`).toBe(403);
    }
    // Nothing changed.
    expect((await admin.listSystemModels({ limit: 1000 })).pagination?.total).toBe(catalog.length);
    expect(await admin.getSystemModel({ id })).toEqual(existing);
  });

  it("CreateSystemModel puts an enabled copy with its own id in existing workspaces and in ones first used later", async () => {
    await listOf("ws_sys_a");
    await listOf("ws_sys_b");
    const token = await service.token("ws_platform_admin");
    const created = ok<{ metadata: { id: string } }>(
      await rest(service, token, "POST", "/v1/system/models", {
        metadata: { name: "Acme Large" },
        spec: {
          provider: "acme",
          family: "acme-large-1",
          inputPricePerMillionTokens: "250",
          outputPricePerMillionTokens: "1000",
          maxInputTokens: 200000,
          maxOutputTokens: 8192,
          visible: true,
        },
      }),
    );
    sys = await admin.getSystemModel({ id: created.metadata.id });
    expect(sys.metadata?.origin).toBe(ModelOrigin.SYSTEM);
    expect(sys.metadata?.catalogId).toBe(sys.metadata!.id);
    expect(sys.spec?.visible).toBe(true);
    expect(sys.spec?.status).toBeUndefined();
    expect((await admin.listSystemModels({ limit: 1000 })).items.map((m) => m.metadata!.id)).toContain(sys.metadata!.id);

    await listOf("ws_sys_c"); // first used after the creation
    for (const ws of ["ws_sys_a", "ws_sys_b", "ws_sys_c"]) {
      const copy = copyIn(await listOf(ws));
      expect(copy, ws).toBeDefined();
      expect(copy!.metadata?.workspaceId).toBe(ws);
      expect(copy!.metadata?.accountId).toBe("acct_test");
      expect(copy!.metadata?.origin).toBe(ModelOrigin.SYSTEM);
      expect(copy!.metadata?.canEdit).toBe(false);
      expect(copy!.spec?.status).toBe(ModelStatus.ENABLED);
      expect(copy!.spec?.family).toBe("acme-large-1");
      expect(copy!.spec?.provider).toBe("acme");
      expect(copy!.spec?.inputPricePerMillionTokens).toBe(250n);
      expect(copy!.spec?.visible).toBeUndefined();
      copies[ws] = copy!.metadata!.id;
    }
    const allIds = [sys.metadata!.id, ...Object.values(copies)];
    expect(new Set(allIds).size).toBe(allIds.length);
  });

  it("each workspace's copy has its own status", async () => {
    const a = await clientOf("ws_sys_a");
    const disabled = await a.disableModel({ id: copies.ws_sys_a! });
    expect(disabled.spec?.status).toBe(ModelStatus.DISABLED);
    expect((await (await clientOf("ws_sys_b")).getModel({ id: copies.ws_sys_b! })).spec?.status).toBe(ModelStatus.ENABLED);
    expect((await (await clientOf("ws_sys_c")).getModel({ id: copies.ws_sys_c! })).spec?.status).toBe(ModelStatus.ENABLED);
    // A copy id is not visible from another workspace.
    expect((await connectError(a.getModel({ id: copies.ws_sys_b! }))).code).toBe(Code.NotFound);
  });

  it("a workspace cannot delete a catalog copy (FailedPrecondition, 400 on REST)", async () => {
    const b = await clientOf("ws_sys_b");
    const err = await connectError(b.deleteModel({ id: copies.ws_sys_b! }));
    expect(err.code).toBe(Code.FailedPrecondition);
    const shipped = (await listOf("ws_sys_b")).find((m) => m.metadata?.catalogId === catalog[0]!.catalogId)!;
    expect((await connectError(b.deleteModel({ id: shipped.metadata!.id }))).code).toBe(Code.FailedPrecondition);
    const r = await rest(service, await service.token("ws_sys_b", { scope: noAdminScope }), "DELETE", `/v1/models/${copies.ws_sys_b}`);
    expect(r.status, r.text).toBe(400);
    expect((JSON.parse(r.text) as { code: number }).code).toBe(Code.FailedPrecondition);
    expect(r.headers.get("x-should-retry")).toBe("false");
    const still = await b.getModel({ id: copies.ws_sys_b! });
    expect(still.metadata?.deleteTime).toBeUndefined();
    expect(copyIn(await listOf("ws_sys_b"))).toBeDefined();
  });

  it("UpdateSystemModel reaches every copy without changing its status", async () => {
    const updated = await admin.updateSystemModel({
      id: sys.metadata!.id,
      model: { spec: { family: "acme-large-2", inputPricePerMillionTokens: 275n, outputPricePerMillionTokens: 1100n } },
      updateMask: { paths: ["spec.family", "spec.input_price_per_million_tokens", "spec.output_price_per_million_tokens"] },
    });
    expect(updated.spec?.family).toBe("acme-large-2");
    const expected: Record<string, ModelStatus> = {
      ws_sys_a: ModelStatus.DISABLED,
      ws_sys_b: ModelStatus.ENABLED,
      ws_sys_c: ModelStatus.ENABLED,
    };
    for (const [ws, status] of Object.entries(expected)) {
      const copy = await (await clientOf(ws)).getModel({ id: copies[ws]! });
      expect(copy.spec?.family, ws).toBe("acme-large-2");
      expect(copy.spec?.inputPricePerMillionTokens, ws).toBe(275n);
      expect(copy.spec?.outputPricePerMillionTokens, ws).toBe(1100n);
      expect(copy.spec?.status, ws).toBe(status);
      expect(copy.metadata?.id).toBe(copies[ws]);
    }
  });

  it("hiding it removes the copies from workspace lists; Get still works and says why", async () => {
    const hidden = await admin.updateSystemModel({ id: sys.metadata!.id, model: { spec: { visible: false } }, updateMask: { paths: ["spec.visible"] } });
    expect(hidden.spec?.visible).toBe(false);
    const listed = (await admin.listSystemModels({ limit: 1000 })).items.find((m) => m.metadata!.id === sys.metadata!.id);
    expect(listed?.spec?.visible).toBe(false);
    for (const ws of ["ws_sys_a", "ws_sys_b"]) {
      expect(copyIn(await listOf(ws)), ws).toBeUndefined();
      const copy = await (await clientOf(ws)).getModel({ id: copies[ws]! });
      expect(copy.metadata?.deleteTime).toBeUndefined();
      expect(copy.spec?.disabledReason, ws).toBeTruthy();
      expect(copy.spec?.family).toBe("acme-large-2");
    }
    // Statuses survive hiding.
    expect((await (await clientOf("ws_sys_a")).getModel({ id: copies.ws_sys_a! })).spec?.status).toBe(ModelStatus.DISABLED);
    expect((await (await clientOf("ws_sys_b")).getModel({ id: copies.ws_sys_b! })).spec?.status).toBe(ModelStatus.ENABLED);
  });

  it("a workspace first used while it is hidden gets no copy", async () => {
    const items = await listOf("ws_sys_d");
    expect(copyIn(items)).toBeUndefined();
    expect(items).toHaveLength(catalog.length);
    expect(await copyRows("ws_sys_d")).toBe(0);
    expect(await copyRows("ws_sys_a")).toBe(1); // the helper does see copies that exist
  });

  it("showing it again brings the existing copies back with their status", async () => {
    await admin.updateSystemModel({ id: sys.metadata!.id, model: { spec: { visible: true } }, updateMask: { paths: ["spec.visible"] } });
    expect(copyIn(await listOf("ws_sys_a"))?.spec?.status).toBe(ModelStatus.DISABLED);
    expect(copyIn(await listOf("ws_sys_b"))?.spec?.status).toBe(ModelStatus.ENABLED);
    expect(copyIn(await listOf("ws_sys_b"))?.spec?.disabledReason).toBeUndefined();
    for (const ws of ["ws_sys_a", "ws_sys_b", "ws_sys_c"]) {
      expect(copyIn(await listOf(ws))?.metadata?.id, ws).toBe(copies[ws]);
      // Only the copy a workspace changed (disabled in ws_sys_a) is a row; the others are virtual.
      expect(await copyRows(ws), ws).toBe(ws === "ws_sys_a" ? 1 : 0);
    }
  });

  it("showing it again also gives a copy to a workspace first used while it was hidden", async () => {
    const copy = copyIn(await listOf("ws_sys_d"));
    expect(copy).toBeDefined();
    expect(copy!.spec?.status).toBe(ModelStatus.ENABLED);
    expect(copy!.metadata?.workspaceId).toBe("ws_sys_d");
    expect(Object.values(copies)).not.toContain(copy!.metadata!.id);
    expect(await copyRows("ws_sys_d")).toBe(0); // virtual: no row until the workspace changes it
    copies.ws_sys_d = copy!.metadata!.id;
  });

  it("DeleteSystemModel soft-deletes every copy", async () => {
    const deleted = await admin.deleteSystemModel({ id: sys.metadata!.id });
    expect(deleted.metadata?.deleteTime).toBeDefined();
    for (const ws of ["ws_sys_a", "ws_sys_b", "ws_sys_c", "ws_sys_d"]) {
      expect(copyIn(await listOf(ws)), ws).toBeUndefined();
      const copy = await (await clientOf(ws)).getModel({ id: copies[ws]! });
      expect(copy.metadata?.deleteTime, ws).toBeDefined();
      expect(copy.spec?.disabledReason, ws).toBeTruthy();
      expect(copyIn(await listOf(ws, true))?.metadata?.id, ws).toBe(copies[ws]);
    }
    expect((await admin.getSystemModel({ id: sys.metadata!.id })).metadata?.deleteTime).toBeDefined();
    expect((await admin.listSystemModels({ limit: 1000 })).items.map((m) => m.metadata!.id)).not.toContain(sys.metadata!.id);
    expect((await admin.listSystemModels({ limit: 1000, showDeleted: true })).items.map((m) => m.metadata!.id)).toContain(sys.metadata!.id);
    // A workspace first used after the delete gets no copy.
    expect(copyIn(await listOf("ws_sys_e", true))).toBeUndefined();
    expect(await copyRows("ws_sys_e")).toBe(0);
  });
});

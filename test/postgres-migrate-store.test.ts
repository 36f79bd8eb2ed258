import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { modelClient, type ModelClient } from "./support/clients.js";
import { createDatabase, usePostgres } from "./support/postgres.js";
import { startTestService, type TestService } from "./support/service.js";
import { openTestDatabase } from "./support/test-database.js";

/**
 * Issue 18: `modelservice ops migrate-store` copies a populated SQLite database
 * into PostgreSQL as it is: a service on the copy answers exactly as the
 * original did (ids, etags, revisions, drafts, request ids, sealed
 * credentials that still open), the change log keeps its position, a dry run
 * writes nothing and a second copy into the filled database is refused.
 */
const adminUrl = usePostgres();
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const ws = "ws_migrated";
let original: TestService;
let database: Awaited<ReturnType<typeof createDatabase>>;
let client: ModelClient;
const requestId = "0f6b2c1e-3f4a-4b5c-8d9e-0a1b2c3d4e5f";

function migrateStore(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile("npx", ["tsx", "src/cli/modelservice.ts", "ops", "migrate-store", ...args], { cwd: repoRoot, timeout: 120_000 }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }),
    );
  });
}

/** Everything the API says about the workspace: every model (deleted ones too), each one's revisions, the drafts. */
async function everything(c: ModelClient) {
  const models = (await c.listModels({ limit: 1000, showDeleted: true })).items;
  const revisions = await Promise.all(models.filter((m) => m.metadata!.origin !== 1).map(async (m) => (await c.listModelRevisions({ id: m.metadata!.id })).items));
  const drafts = (await c.listModelDrafts({})).items;
  return { models, revisions, drafts };
}

beforeAll(async () => {
  database = await createDatabase(adminUrl());
  original = await startTestService({}, { sqliteOnly: "the source of the migration is a SQLite file" });
  client = modelClient(original.url, await original.token(ws));
  // Two catalog copies made rows by a write (the others stay virtual): they are copied as they are.
  const [disabled, labelled] = (await client.listModels({ limit: 2 })).items;
  await client.disableModel({ id: disabled!.metadata!.id });
  await client.updateModel({ id: labelled!.metadata!.id, model: { metadata: { labels: { kept: "yes" } } }, updateMask: { paths: ["metadata.labels"] } });
  const sealed = await client.createModel({
    model: { metadata: { name: "sealed", labels: { team: "a", env: "prod" } }, spec: { modelUrl: "https://api.example.com/v1", credentials: { token: "sk-migrated-secret" } } },
    requestId,
  });
  await client.updateModel({ id: sealed.metadata!.id, model: { metadata: { name: "sealed, renamed" } }, updateMask: { paths: ["metadata.name"] } });
  const gone = await client.createModel({ model: { metadata: { name: "deleted later" }, spec: { family: "f" } } });
  await client.deleteModel({ id: gone.metadata!.id });
  await client.createModelDraft({ modelId: sealed.metadata!.id });
  await original.stop();
}, 120_000);
afterAll(async () => {
  await original?.dispose();
  await database?.drop();
});

it("a dry run reports the tables and writes nothing; the copy serves what the original served; a second copy is refused", async () => {
  const from = join(original.dir, "modelservice.db");
  const dry = await migrateStore("--from", from, "--to", database.url, "--dry-run");
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/^would copy /);
  expect(dry.stdout).toMatch(/models: [1-9]\d* rows, sha256 [0-9a-f]{64}/);
  const target = openTestDatabase(database.url);
  try {
    expect(await target.all("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
  } finally {
    await target.close();
  }

  const copy = await migrateStore("--from", from, "--to", database.url);
  expect(copy.code, copy.stderr).toBe(0);
  // The same rows and checksums as the dry run read, now read back from PostgreSQL.
  expect(copy.stdout.split("\n").slice(1)).toEqual(dry.stdout.split("\n").slice(1));

  await original.restart();
  const before = await everything(client);
  const sqliteHead = await openTestDatabase(original.database, { readonly: true });
  const [head] = await sqliteHead.all<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'model_changes'");
  await sqliteHead.close();
  await original.stop();

  // The copy's service: the same data directory (its encryption key) on the PostgreSQL database.
  const migrated = await startTestService({ MODELSERVICE_DATA_DIR: original.dir, MODELSERVICE_DB: database.url });
  try {
    const onCopy = modelClient(migrated.url, await migrated.token(ws));
    expect(await everything(onCopy)).toEqual(before);
    const sealed = before.models.find((m) => m.metadata!.name === "sealed, renamed")!;
    // The request id still answers its first call; the sealed credentials still open.
    const retried = await onCopy.createModel({
      model: { metadata: { name: "sealed", labels: { team: "a", env: "prod" } }, spec: { modelUrl: "https://api.example.com/v1", credentials: { token: "sk-migrated-secret" } } },
      requestId,
    });
    expect(retried.metadata!.id).toBe(sealed.metadata!.id);
    const duplicate = await onCopy.duplicateModel({ id: sealed.metadata!.id, copyCredentials: true });
    expect(duplicate.spec!.credentialFingerprint).toBe(sealed.spec!.credentialFingerprint);
    // The change log goes on from where SQLite's stood.
    const log = openTestDatabase(database.url);
    try {
      const [first] = await log.all<{ seq: number }>("SELECT min(seq) AS seq FROM model_changes WHERE model_id = ?", [duplicate.metadata!.id]);
      expect(first!.seq).toBe(head!.seq + 1);
    } finally {
      await log.close();
    }
  } finally {
    await migrated.stop();
  }

  const again = await migrateStore("--from", from, "--to", database.url);
  expect(again.code).toBe(2);
  expect(again.stderr).toContain("not empty");
}, 240_000);

import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { modelClient } from "./support/clients.js";
import { jwtSecret, startTestService, type TestService } from "./support/service.js";

/**
 * The HMAC keys of list cursors and credential fingerprints are not kept in
 * plaintext beside the data (issue 14 item 13): the database file does not
 * hold them, a database of an older release (plain base64 keys) is migrated
 * without changing its fingerprints, and key rotation carries them along.
 */

const repoRoot = resolve(import.meta.dirname, "..");
const ws = "ws_service_keys";
const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("base64");
const started: TestService[] = [];

afterAll(async () => {
  for (const s of started.reverse()) await s.dispose();
});

/** Why this file runs on SQLite whatever MODELSERVICE_TEST_STORE says. */
const sqliteOnly = "it searches the SQLite file's bytes (free pages included) for key material";

async function startOn(dir: string | undefined, env: Record<string, string>): Promise<TestService> {
  const service = await startTestService(dir === undefined ? env : { ...env, MODELSERVICE_DATA_DIR: dir }, { sqliteOnly });
  started.push(service);
  return service;
}

const dbPath = (dir: string) => join(dir, "modelservice.db");

/** The fingerprint of a token under an HMAC key, computed here as the README defines it. */
function fingerprintOf(key: Buffer, token: string): string {
  return "fp_" + createHmac("sha256", key).update(JSON.stringify({ token }), "utf8").digest("hex").slice(0, 12);
}

async function createWithToken(service: TestService, token: string): Promise<string> {
  const client = modelClient(service.url, await service.token(ws));
  const model = await client.createModel({
    model: { metadata: { name: `keys ${token}` }, spec: { modelUrl: "https://api.example.com/v1", credentials: { token } } },
  });
  return model.spec!.credentialFingerprint!;
}

/** The database file and its WAL, as bytes. */
function databaseBytes(dir: string): Buffer {
  const db = dbPath(dir);
  return Buffer.concat([db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

function settings(dir: string): Map<string, string> {
  const db = new Database(dbPath(dir), { readonly: true });
  try {
    return new Map((db.prepare("SELECT name, value FROM settings").all() as Array<{ name: string; value: string }>).map((r) => [r.name, r.value]));
  } finally {
    db.close();
  }
}

describe("HMAC keys at rest", () => {
  it("a new database holds no key that makes the fingerprints it shows", async () => {
    const service = await startOn(undefined, { MODELSERVICE_ENCRYPTION_KEY: keyA });
    const token = `sk-keys-${randomBytes(4).toString("hex")}`;
    const fp = await createWithToken(service, token);
    await service.stop();
    const values = [...settings(service.dir).values()];
    expect(values.length).toBeGreaterThanOrEqual(2);
    // Every 32-byte base64 value anywhere in the file: none is the fingerprint key.
    const text = databaseBytes(service.dir).toString("latin1");
    const candidates = [...values, ...(text.match(/[A-Za-z0-9+/]{43}=/g) ?? [])];
    const found = candidates.filter((c) => fingerprintOf(Buffer.from(c, "base64"), token) === fp);
    expect(found).toEqual([]);
  });

  it("an older release's plaintext keys are sealed in place: same fingerprints, no key bytes left in the file", async () => {
    const first = await startOn(undefined, { MODELSERVICE_ENCRYPTION_KEY: keyA });
    await first.stop();
    const dir = first.dir;
    // What an older release stored: the keys as plain base64.
    const fingerprintKey = randomBytes(32);
    const cursorKey = randomBytes(32);
    const db = new Database(dbPath(dir));
    db.prepare("UPDATE settings SET value = ? WHERE name = ?").run(fingerprintKey.toString("base64"), "credential-fingerprint-key");
    db.prepare("UPDATE settings SET value = ? WHERE name = ?").run(cursorKey.toString("base64"), "list-cursor-key");
    // A later row, so the keys' cells are not the last in their page: replacing them leaves their old bytes in free space.
    db.prepare("INSERT INTO settings (name, value) VALUES (?, ?)").run("test-later-setting", "x".repeat(200));
    db.close();

    const upgraded = await startOn(dir, { MODELSERVICE_ENCRYPTION_KEY: keyA });
    const token = `sk-legacy-${randomBytes(4).toString("hex")}`;
    const fp = await createWithToken(upgraded, token);
    expect(fp).toBe(fingerprintOf(fingerprintKey, token));
    await upgraded.stop();

    const bytes = databaseBytes(dir);
    for (const key of [fingerprintKey, cursorKey]) {
      for (const form of [key, Buffer.from(key.toString("base64")), Buffer.from(key.toString("hex")), Buffer.from(key.toString("base64url"))]) {
        expect(bytes.includes(form)).toBe(false);
      }
    }

    // Rotating the encryption key (`npm run rotate-keys`) carries the keys along: the new key alone still gives the same fingerprint.
    const rotated = await new Promise<{ code: number; stderr: string }>((done) => {
      const env: NodeJS.ProcessEnv = { ...process.env, MODELSERVICE_DATA_DIR: dir, MODELSERVICE_JWT_SECRET: jwtSecret, MODELSERVICE_ENCRYPTION_KEY: keyB, MODELSERVICE_ENCRYPTION_KEYS_OLD: keyA };
      delete env.MODELSERVICE_DB;
      execFile("npx", ["tsx", "src/ops/rotate-keys.ts"], { cwd: repoRoot, env, timeout: 60_000 }, (error, _stdout, stderr) =>
        done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr }),
      );
    });
    expect(rotated.code, rotated.stderr).toBe(0);
    const afterRotation = await startOn(dir, { MODELSERVICE_ENCRYPTION_KEY: keyB });
    expect(await createWithToken(afterRotation, token)).toBe(fp);
    await afterRotation.stop();
  }, 120_000);
});

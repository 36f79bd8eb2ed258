import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  CredentialKeyError,
  CredentialOpenError,
  CredentialSealer,
  fingerprint,
  type Credentials,
  type SealedCredentials,
} from "../src/domain/credentials/credential-sealer.js";
import { devEncryptionKey } from "../src/domain/credentials/encryption-key.js";

/** Sealing model endpoint secrets at rest, key rotation, key settings and fingerprints. */

const modelId = "model_01JABCDEF0123456789ABCDEFG";
const otherModelId = "model_01JZZZZZZZ0123456789ZZZZZZ";

const tokenOnly: Credentials = { token: "tok-live-4f1e9a8b7c6d5e4f3a2b1c0d" };
const keyPair: Credentials = { clientKey: "client-key-9a8b7c6d5e", secretKey: "secret-key-0f1e2d3c4b5a69788796" };
const allThree: Credentials = { ...tokenOnly, ...keyPair };
const allSecrets = [tokenOnly.token!, keyPair.clientKey!, keyPair.secretKey!];

function expectOpenError(run: () => unknown, ...parts: string[]): CredentialOpenError {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CredentialOpenError);
  const message = (error as Error).message;
  for (const part of parts) expect(message).toContain(part);
  for (const secret of allSecrets) expect(message).not.toContain(secret);
  return error as CredentialOpenError;
}

function flipByte(sealed: SealedCredentials, at: number): SealedCredentials {
  const blob = Uint8Array.from(sealed.blob);
  blob[at]! ^= 0x01;
  return { keyId: sealed.keyId, blob };
}

describe("seal and open", () => {
  const sealer = new CredentialSealer(randomBytes(32));

  it.each([
    ["token only", tokenOnly],
    ["client key and secret key", keyPair],
    ["all three", allThree],
  ])("round-trips %s", (_, credentials) => {
    const sealed = sealer.seal(modelId, credentials);
    expect(sealed.keyId).toBe(sealer.currentKeyId);
    expect(sealer.open(modelId, sealed)).toEqual(credentials);
  });

  it("uses the documented layout and a fresh IV per seal", () => {
    const a = sealer.seal(modelId, tokenOnly);
    const b = sealer.seal(modelId, tokenOnly);
    expect(a.blob[0]).toBe(1);
    // version | 12-byte iv | 16-byte tag | ciphertext of the JSON
    expect(a.blob.length).toBe(1 + 12 + 16 + JSON.stringify(tokenOnly).length);
    expect(Buffer.from(a.blob.subarray(1, 13)).equals(Buffer.from(b.blob.subarray(1, 13)))).toBe(false);
  });

  it("keeps no secret in plain text in the blob", () => {
    const blob = Buffer.from(sealer.seal(modelId, allThree).blob);
    for (const secret of allSecrets) expect(blob.includes(Buffer.from(secret, "utf8"))).toBe(false);
  });

  it("key ids are 16 hex characters", () => {
    expect(sealer.currentKeyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it("does not open a blob moved to another model", () => {
    const sealed = sealer.seal(modelId, allThree);
    const error = expectOpenError(() => sealer.open(otherModelId, sealed), `model "${otherModelId}"`);
    expect(error.message).toMatch(/altered or the key is wrong/);
  });

  it.each([
    ["version", 0],
    ["iv start", 1],
    ["iv end", 12],
    ["tag start", 13],
    ["tag end", 28],
    ["ciphertext start", 29],
    ["ciphertext end", -1],
  ])("does not open a blob with a flipped %s byte", (_, position) => {
    const sealed = sealer.seal(modelId, allThree);
    const at = position < 0 ? sealed.blob.length + position : position;
    expectOpenError(() => sealer.open(modelId, flipByte(sealed, at)), `model "${modelId}"`);
  });

  it("does not open a truncated blob", () => {
    const sealed = sealer.seal(modelId, tokenOnly);
    expectOpenError(() => sealer.open(modelId, { keyId: sealed.keyId, blob: sealed.blob.subarray(0, 20) }), modelId);
  });

  it("rejects keys that are not 32 bytes", () => {
    expect(() => new CredentialSealer(randomBytes(16))).toThrow(CredentialKeyError);
    expect(() => new CredentialSealer(randomBytes(32), [randomBytes(31)])).toThrow(CredentialKeyError);
  });
});

describe("key rotation", () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const oldSealer = new CredentialSealer(oldKey);
  const rotated = new CredentialSealer(newKey, [oldKey]);

  it("opens blobs sealed with a retired key", () => {
    const sealed = oldSealer.seal(modelId, keyPair);
    expect(sealed.keyId).toBe(oldSealer.currentKeyId);
    expect(rotated.open(modelId, sealed)).toEqual(keyPair);
  });

  it("reseals old blobs under the current key, and leaves current ones alone", () => {
    const resealed = rotated.reseal(modelId, oldSealer.seal(modelId, allThree));
    expect(resealed?.keyId).toBe(rotated.currentKeyId);
    expect(resealed?.keyId).not.toBe(oldSealer.currentKeyId);
    expect(new CredentialSealer(newKey).open(modelId, resealed!)).toEqual(allThree);
    expect(rotated.reseal(modelId, resealed!)).toBeUndefined();
  });

  it("fails, naming the key id, without the old key", () => {
    const sealed = oldSealer.seal(modelId, tokenOnly);
    const error = expectOpenError(
      () => new CredentialSealer(newKey).open(modelId, sealed),
      `model "${modelId}"`,
      `key "${oldSealer.currentKeyId}" is not configured`,
    );
    expect(error.message).not.toContain(oldKey.toString("hex"));
    expect(error.message).not.toContain(oldKey.toString("base64"));
  });

  it("fails when a blob claims another configured key", () => {
    const sealed = oldSealer.seal(modelId, tokenOnly);
    expectOpenError(() => rotated.open(modelId, { keyId: rotated.currentKeyId, blob: sealed.blob }), "altered");
  });

  it("ignores the current key in the retired list", () => {
    const sealer = new CredentialSealer(newKey, [newKey, oldKey]);
    expect(sealer.currentKeyId).toBe(rotated.currentKeyId);
    expect(sealer.open(modelId, oldSealer.seal(modelId, tokenOnly))).toEqual(tokenOnly);
  });
});

describe("fromSettings", () => {
  const key = randomBytes(32);
  const keyId = new CredentialSealer(key).currentKeyId;
  /** A key with "+", "/", "-" and "_" in its base64 forms, so standard and url-safe differ. */
  const mixedKey = Buffer.from("fbff" + "fe".repeat(30), "hex");

  it.each([
    ["base64", key.toString("base64")],
    ["base64url", key.toString("base64url")],
    ["hex", key.toString("hex")],
    ["upper-case hex", key.toString("hex").toUpperCase()],
    ["base64 with surrounding blanks", `  ${key.toString("base64")}\n`],
  ])("accepts a 32-byte key as %s", (_, text) => {
    expect(CredentialSealer.fromSettings(text).currentKeyId).toBe(keyId);
  });

  it("decodes standard and url-safe base64 to the same key", () => {
    const standard = mixedKey.toString("base64");
    const urlSafe = mixedKey.toString("base64url");
    expect(standard).toMatch(/[+/]/);
    expect(urlSafe).toMatch(/[-_]/);
    expect(CredentialSealer.fromSettings(standard).currentKeyId).toBe(
      CredentialSealer.fromSettings(urlSafe).currentKeyId,
    );
  });

  function expectKeyError(run: () => unknown, setting: string, value: string): void {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CredentialKeyError);
    const message = (error as Error).message;
    expect(message).toContain(setting);
    expect(message).toMatch(/32 bytes/);
    if (value.trim() !== "") expect(message).not.toContain(value.trim());
  }

  it.each([
    ["a 16-byte base64 key", randomBytes(16).toString("base64")],
    ["a 16-byte hex key", randomBytes(16).toString("hex")],
    ["a 48-byte base64 key", randomBytes(48).toString("base64")],
    ["garbage", "not a key at all, surely!"],
    ["an empty value", ""],
  ])("rejects %s as the current key", (_, text) => {
    expectKeyError(() => CredentialSealer.fromSettings(text), "MODELSERVICE_ENCRYPTION_KEY", text);
  });

  it("reads comma-separated retired keys, ignoring blanks", () => {
    const oldA = randomBytes(32);
    const oldB = randomBytes(32);
    const sealer = CredentialSealer.fromSettings(
      key.toString("base64"),
      ` ${oldA.toString("hex")}, ,${oldB.toString("base64url")},`,
    );
    for (const old of [oldA, oldB]) {
      expect(sealer.open(modelId, new CredentialSealer(old).seal(modelId, tokenOnly))).toEqual(tokenOnly);
    }
  });

  it("rejects a bad retired key, naming the setting but not the value", () => {
    const bad = randomBytes(16).toString("base64");
    expectKeyError(
      () => CredentialSealer.fromSettings(key.toString("base64"), `${randomBytes(32).toString("hex")},${bad}`),
      "MODELSERVICE_ENCRYPTION_KEYS_OLD",
      bad,
    );
  });
});

describe("fingerprint", () => {
  const fingerprintKey = randomBytes(32);

  it("is fp_ and 12 hex characters, and stable", () => {
    const fp = fingerprint(fingerprintKey, allThree);
    expect(fp).toMatch(/^fp_[0-9a-f]{12}$/);
    expect(fingerprint(fingerprintKey, { ...allThree })).toBe(fp);
  });

  it("does not depend on the order the fields were set in", () => {
    const reordered: Credentials = { secretKey: allThree.secretKey, clientKey: allThree.clientKey, token: allThree.token };
    expect(fingerprint(fingerprintKey, reordered)).toBe(fingerprint(fingerprintKey, allThree));
  });

  it("differs between secrets", () => {
    const fps = [
      tokenOnly,
      { token: "tok-live-4f1e9a8b7c6d5e4f3a2b1c0e" },
      keyPair,
      { clientKey: keyPair.clientKey, secretKey: "another-secret" },
      // Same strings, other fields: must not collide.
      { clientKey: keyPair.secretKey, secretKey: keyPair.clientKey },
      allThree,
      {},
    ].map((c) => fingerprint(fingerprintKey, c));
    expect(new Set(fps).size).toBe(fps.length);
  });

  it("differs for the same secret under another fingerprint key", () => {
    expect(fingerprint(randomBytes(32), tokenOnly)).not.toBe(fingerprint(fingerprintKey, tokenOnly));
  });

  it("does not contain the secret", () => {
    const fp = fingerprint(fingerprintKey, tokenOnly);
    for (const secret of allSecrets) expect(fp).not.toContain(secret.slice(0, 6));
  });
});

describe("devEncryptionKey", () => {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-key-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the key file once, readable only by its owner, and returns the same key after", () => {
    const dataDir = join(dir, "data"); // not there yet: created on demand
    const first = devEncryptionKey(dataDir);
    const path = join(dataDir, "encryption-key");
    if (process.platform !== "win32") expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(first, "base64")).toHaveLength(32);
    expect(devEncryptionKey(dataDir)).toBe(first);
    expect(() => CredentialSealer.fromSettings(first)).not.toThrow();
  });
});

import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";

/** The secrets a model endpoint may need; only the set fields are stored. */
export interface Credentials {
  token?: string;
  clientKey?: string;
  secretKey?: string;
}

/** What storage keeps: the id of the key that sealed the blob, and the blob. */
export interface SealedCredentials {
  keyId: string;
  blob: Uint8Array;
}

/** The encryption keys are badly configured; the message names the setting, never its value. */
export class CredentialKeyError extends Error {}

/** Sealed credentials (or a sealed service key) cannot be opened; the message names the model or key, never secret material. */
export class CredentialOpenError extends Error {}

const ALGORITHM = "aes-256-gcm";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** First byte of every blob, so a later format can be told apart from this one. */
const FORMAT_VERSION = 1;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

const CURRENT_SETTING = "MODELSERVICE_ENCRYPTION_KEY";
const RETIRED_SETTING = "MODELSERVICE_ENCRYPTION_KEYS_OLD";
const KEY_FORMAT = `${KEY_BYTES} bytes given as base64 (standard or url-safe) or as ${KEY_BYTES * 2} hex characters`;

/** A key id is a truncated hash: it tells keys apart in storage without revealing them. */
function keyIdOf(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/** The set fields in a fixed order, so equal credentials always encode to equal bytes. */
function canonicalJson(credentials: Credentials): string {
  const { token, clientKey, secretKey } = credentials;
  return JSON.stringify({ token, clientKey, secretKey }); // undefined fields are dropped
}

function credentialsFromJson(json: string): Credentials {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  const credentials: Credentials = {};
  for (const field of ["token", "clientKey", "secretKey"] as const) {
    const value = parsed[field];
    if (typeof value === "string") credentials[field] = value;
  }
  return credentials;
}

/** The model id is authenticated data: a blob copied to another model's row fails to open. */
function modelAad(modelId: string): Buffer {
  return Buffer.from(modelId, "utf8");
}

/** A service key's blob is bound to its setting's name, so it opens neither as another key nor as credentials. */
function serviceKeyAad(name: string): Buffer {
  return Buffer.from(`service-key:${name}`, "utf8");
}

/** Decodes a key setting; `undefined` when the text is not a 32-byte key in an accepted form. */
function decodeKey(text: string): Uint8Array | undefined {
  // Hex first: 64 hex characters are also valid base64, of the wrong length.
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, "hex");
  // Buffer's base64 decoder skips characters it does not know, so check the alphabet first.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  const key = Buffer.from(text, "base64");
  return key.length === KEY_BYTES ? key : undefined;
}

export class CredentialSealer {
  readonly currentKeyId: string;
  /** Every key that may open a blob, current and retired, by key id. */
  private readonly keys = new Map<string, Uint8Array>();

  /** current: the key new secrets are sealed with; retired: keys still accepted for opening. */
  constructor(current: Uint8Array, retired: readonly Uint8Array[] = []) {
    this.currentKeyId = this.addKey(current);
    for (const key of retired) this.addKey(key);
  }

  /** Parses the environment values: one current key, and a comma-separated list of retired keys. */
  static fromSettings(currentText: string, retiredText = ""): CredentialSealer {
    const current = decodeKey(currentText.trim());
    if (!current) throw new CredentialKeyError(`${CURRENT_SETTING} must be ${KEY_FORMAT}`);
    const entries = retiredText.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
    const retired = entries.map((entry, i) => {
      const key = decodeKey(entry);
      if (!key) {
        throw new CredentialKeyError(`${RETIRED_SETTING} entry ${i + 1} of ${entries.length} must be ${KEY_FORMAT}`);
      }
      return key;
    });
    return new CredentialSealer(current, retired);
  }

  seal(modelId: string, credentials: Credentials): SealedCredentials {
    return this.sealBytes(modelAad(modelId), Buffer.from(canonicalJson(credentials), "utf8"));
  }

  /** Throws CredentialOpenError naming the model when no key opens the blob or it was tampered with. */
  open(modelId: string, sealed: SealedCredentials): Credentials {
    const plaintext = this.openBytes(modelAad(modelId), sealed, `credentials of model "${modelId}"`);
    return credentialsFromJson(plaintext.toString("utf8"));
  }

  /** Seals one of the service's own keys (list cursors, fingerprints); its name is the additional data. */
  sealServiceKey(name: string, key: Uint8Array): SealedCredentials {
    return this.sealBytes(serviceKeyAad(name), key);
  }

  /** Throws CredentialOpenError naming the setting when no key opens the blob or it was tampered with. */
  openServiceKey(name: string, sealed: SealedCredentials): Buffer {
    return this.openBytes(serviceKeyAad(name), sealed, `the service key "${name}"`);
  }

  private sealBytes(aad: Buffer, plaintext: Uint8Array): SealedCredentials {
    const iv = randomBytes(IV_BYTES); // fresh per seal: GCM must never reuse an IV under one key
    const cipher = createCipheriv(ALGORITHM, this.currentKey(), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const blob = Buffer.concat([Buffer.of(FORMAT_VERSION), iv, cipher.getAuthTag(), ciphertext]);
    return { keyId: this.currentKeyId, blob };
  }

  private openBytes(aad: Buffer, sealed: SealedCredentials, what: string): Buffer {
    const fail = (reason: string) => new CredentialOpenError(`${what} cannot be opened: ${reason}`);
    const key = this.keys.get(sealed.keyId);
    if (!key) throw fail(`key "${sealed.keyId}" is not configured`);
    const { blob } = sealed;
    if (blob.length < HEADER_BYTES || blob[0] !== FORMAT_VERSION) throw fail("data is not in a known format");
    const iv = blob.subarray(1, 1 + IV_BYTES);
    const tag = blob.subarray(1 + IV_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(blob.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      // GCM only says the tag did not match: a wrong key, another model's blob and altered bytes look alike.
      throw fail("data was altered or the key is wrong");
    }
  }

  /** Re-seals under the current key; returns undefined when it already is. */
  reseal(modelId: string, sealed: SealedCredentials): SealedCredentials | undefined {
    if (sealed.keyId === this.currentKeyId) return undefined;
    return this.seal(modelId, this.open(modelId, sealed));
  }

  /** Keeps a private copy, so a caller wiping or reusing its buffer cannot change the sealer's keys. */
  private addKey(key: Uint8Array): string {
    if (key.length !== KEY_BYTES) {
      throw new CredentialKeyError(`an encryption key must be ${KEY_BYTES} bytes, not ${key.length}`);
    }
    const id = keyIdOf(key);
    if (!this.keys.has(id)) this.keys.set(id, Uint8Array.from(key)); // a retired copy of the current key adds nothing
    return id;
  }

  private currentKey(): Uint8Array {
    return this.keys.get(this.currentKeyId)!;
  }
}

/**
 * A short fingerprint that tells users which secret is set without revealing it.
 * Keyed (HMAC) so short or guessable secrets cannot be recovered by hashing candidates.
 */
export function fingerprint(fingerprintKey: Uint8Array, credentials: Credentials): string {
  if (fingerprintKey.length === 0) throw new CredentialKeyError("the fingerprint key must not be empty");
  const mac = createHmac("sha256", fingerprintKey).update(canonicalJson(credentials), "utf8").digest("hex");
  return `fp_${mac.slice(0, 12)}`;
}

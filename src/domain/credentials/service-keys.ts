import { randomBytes } from "node:crypto";
import type { ModelStore } from "../../storage/model-store.js";
import type { CredentialSealer, SealedCredentials } from "./credential-sealer.js";

/** The HMAC keys of list cursors and of credential fingerprints, by their names in the settings table. */
export const serviceKeyNames = { cursor: "list-cursor-key", fingerprint: "credential-fingerprint-key" } as const;

const sealedPrefix = "sealed:";

function stored(sealed: SealedCredentials): string {
  return `${sealedPrefix}${sealed.keyId}:${Buffer.from(sealed.blob).toString("base64")}`;
}

function sealedOf(text: string): SealedCredentials | undefined {
  if (!text.startsWith(sealedPrefix)) return undefined;
  const [keyId = "", blob = ""] = text.slice(sealedPrefix.length).split(":");
  return { keyId, blob: Buffer.from(blob, "base64") };
}

/**
 * One of the service's own HMAC keys. It is random, made once per database,
 * and stored sealed with the encryption key (as credentials are), so the
 * database file alone does not hold it. A key stored by an older release as
 * plain base64 is sealed in place, keeping its bytes: fingerprints already
 * made with it stay valid. A key sealed under a retired encryption key is
 * re-sealed under the current one, so `rotate-keys` (or a restart) lets the
 * old key go. Throws CredentialOpenError when no configured key opens it.
 */
export async function serviceKey(store: Pick<ModelStore, "secret" | "replaceSecret">, sealer: CredentialSealer, name: string): Promise<Buffer> {
  const text = await store.secret(name, () => stored(sealer.sealServiceKey(name, randomBytes(32))));
  const sealed = sealedOf(text);
  const key = sealed ? sealer.openServiceKey(name, sealed) : Buffer.from(text, "base64");
  if (sealed?.keyId !== sealer.currentKeyId) await store.replaceSecret(name, text, stored(sealer.sealServiceKey(name, key)));
  return key;
}

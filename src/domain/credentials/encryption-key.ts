import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The dev-mode encryption key, for running without MODELSERVICE_ENCRYPTION_KEY:
 * created once under the data directory (readable only by its owner) and
 * returned as base64 text, in the form CredentialSealer.fromSettings accepts.
 */
export function devEncryptionKey(dataDir: string): string {
  const path = join(dataDir, "encryption-key");
  mkdirSync(dataDir, { recursive: true });
  try {
    // "wx" fails when the file exists, so a second start keeps the key that sealed the stored secrets.
    writeFileSync(path, randomBytes(32).toString("base64"), { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return readFileSync(path, "utf8").trim();
}

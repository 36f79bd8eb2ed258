import { Command } from "commander";
import { ConfigError, loadConfig } from "../config.js";
import { CredentialKeyError, CredentialOpenError, CredentialSealer } from "../domain/credentials/credential-sealer.js";
import { systemProfileId } from "../domain/models/model-registry.js";
import { SqliteModelStore } from "../storage/sqlite/sqlite-model-store.js";

/**
 * Re-seals every stored credential under MODELSERVICE_ENCRYPTION_KEY, opening
 * old ones with MODELSERVICE_ENCRYPTION_KEYS_OLD. Safe to run while the
 * service runs and to run again; exits 1 if any model could not be opened.
 */
async function rotateKeys(): Promise<number> {
  const config = loadConfig();
  const sealer = CredentialSealer.fromSettings(config.encryptionKey, config.encryptionKeysOld);
  const store = new SqliteModelStore({ path: config.databasePath, systemProfileId });
  let resealed = 0;
  let current = 0;
  const failed: string[] = [];
  try {
    for (const sealed of await store.sealedCredentials()) {
      try {
        const next = sealer.reseal(sealed.id, sealed);
        if (!next) {
          current++;
          continue;
        }
        await store.resealCredentials(sealed.id, next.keyId, next.blob);
        resealed++;
      } catch (e) {
        if (!(e instanceof CredentialOpenError)) throw e;
        failed.push(e.message);
      }
    }
  } finally {
    await store.close();
  }
  process.stdout.write(`re-sealed ${resealed}, already under key ${sealer.currentKeyId}: ${current}, failed: ${failed.length}\n`);
  for (const message of failed) process.stderr.write(`error: ${message}\n`);
  return failed.length > 0 ? 1 : 0;
}

new Command("rotate-keys")
  .description("Re-encrypt every model's credentials under MODELSERVICE_ENCRYPTION_KEY (old keys from MODELSERVICE_ENCRYPTION_KEYS_OLD)")
  .action(async () => {
    process.exitCode = await rotateKeys();
  })
  .parseAsync()
  .catch((e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(e instanceof ConfigError || e instanceof CredentialKeyError ? 2 : 1);
  });

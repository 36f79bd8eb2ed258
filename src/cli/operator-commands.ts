import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConfigError, loadConfig } from "../config.js";
import { scopes } from "../domain/auth/principal.js";
import { CredentialOpenError, CredentialSealer } from "../domain/credentials/credential-sealer.js";
import { errorLine, exitCodeOf } from "./errors.js";

// The database and token libraries load only when an operator command runs,
// so that the client commands start quickly.
async function openStore(path: string) {
  // config.databasePath is empty when MODELSERVICE_DB is a postgres:// URL.
  if (path === "") throw new ConfigError("MODELSERVICE_DB is a PostgreSQL URL: migrate and rotate-keys work on SQLite only so far");
  const [{ SqliteModelStore }, { systemProfileId }] = await Promise.all([
    import("../storage/sqlite/sqlite-model-store.js"),
    import("../domain/models/model-registry.js"),
  ]);
  return new SqliteModelStore({ path, systemProfileId });
}

/*
 * Commands that act on the service's own settings and database rather than
 * over the network: they read the same environment as `npm start` (README
 * "Settings").
 */

function scopeList(text: string): string {
  const list = text.split(/\s+/).filter((s) => s !== "");
  const unknown = list.filter((s) => !(scopes as readonly string[]).includes(s));
  if (list.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`scopes are ${scopes.join(", ")}; got "${text}"`);
  }
  return list.join(" ");
}

/** A lifetime as jose reads it ("90s", "1h", "30d", "2 weeks"), positive and forward only. */
const ttlText = /^(\d+|\d+\.\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)$/i;

function ttl(text: string): string {
  const m = ttlText.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError('expected a lifetime such as "30m", "1h", "30d" or "2 weeks"');
  return text.trim();
}

/** `token`: mints a bearer token signed with the configured HS256 secret. */
export function tokenCommand(name = "token"): Command {
  return new Command(name)
    .description("Mint a bearer token signed with the configured HS256 secret (dev mode: the secret under ./data/)")
    .requiredOption("--workspace <id>", "workspace_id claim")
    .option("--account <id>", "account_id claim", "acct_dev")
    .option("--profile <id>", "sub claim: the caller's profile id", "profile_dev")
    .addOption(new Option("--scope <scopes>", "space-separated scopes").argParser(scopeList).default(scopes.join(" ")))
    .addOption(new Option("--ttl <duration>", 'lifetime, e.g. "1h", "30d"').argParser(ttl).default("1h"))
    .action(async (o: { workspace: string; account: string; profile: string; scope: string; ttl: string }) => {
      const config = loadConfig();
      if (config.tokenKeys.kind !== "secret") {
        throw new ConfigError("MODELSERVICE_JWKS_FILE is set: tokens are minted by the key holder, not here");
      }
      const { mintToken } = await import("../domain/auth/token-minter.js");
      const token = await mintToken({
        secret: config.tokenKeys.secret,
        workspaceId: o.workspace,
        accountId: o.account,
        profileId: o.profile,
        scope: o.scope,
        ttl: o.ttl,
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
      });
      process.stdout.write(token + "\n");
    });
}

/**
 * Re-seals every stored credential, and the service's HMAC keys, under
 * MODELSERVICE_ENCRYPTION_KEY, opening old ones with
 * MODELSERVICE_ENCRYPTION_KEYS_OLD. Safe to run while the
 * service runs and to run again; exits 1 if any model or key could not be opened.
 */
async function rotateKeys(): Promise<number> {
  const config = loadConfig();
  const sealer = CredentialSealer.fromSettings(config.encryptionKey, config.encryptionKeysOld);
  const store = await openStore(config.databasePath);
  let resealed = 0;
  let current = 0;
  const failed: string[] = [];
  const keysFailed: string[] = [];
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
    // The service's own HMAC keys are sealed too: opening one re-seals it under the current key.
    const { serviceKey, serviceKeyNames } = await import("../domain/credentials/service-keys.js");
    for (const name of Object.values(serviceKeyNames)) {
      try {
        await serviceKey(store, sealer, name);
      } catch (e) {
        if (!(e instanceof CredentialOpenError)) throw e;
        keysFailed.push(e.message);
      }
    }
  } finally {
    await store.close();
  }
  process.stdout.write(`re-sealed ${resealed}, already under key ${sealer.currentKeyId}: ${current}, failed: ${failed.length}\n`);
  for (const message of [...failed, ...keysFailed]) process.stderr.write(`error: ${message}\n`);
  return failed.length + keysFailed.length > 0 ? 1 : 0;
}

export function rotateKeysCommand(name = "rotate-keys"): Command {
  return new Command(name)
    .description("Re-encrypt every model's credentials under MODELSERVICE_ENCRYPTION_KEY (old keys from MODELSERVICE_ENCRYPTION_KEYS_OLD)")
    .action(async () => {
      process.exitCode = await rotateKeys();
    });
}

/** `migrate`: opens the database, which applies the pending migrations, and exits. */
export function migrateCommand(): Command {
  return new Command("migrate")
    .description("Apply the pending database migrations (MODELSERVICE_DB / MODELSERVICE_DATA_DIR) and exit")
    .action(async () => {
      const config = loadConfig();
      const store = await openStore(config.databasePath);
      try {
        const version = store.db.pragma("user_version", { simple: true }) as number;
        process.stdout.write(`database ${config.databasePath} is at schema version ${version}\n`);
      } finally {
        await store.close();
      }
    });
}

/** `serve`: runs the service exactly as `npm start` does (src/main.ts), with optional overrides of its settings. */
export function serveCommand(): Command {
  return new Command("serve")
    .description("Run the service (same as `npm start`); settings from the environment (README \"Settings\")")
    .option("--port <port>", "PORT: the one port for every protocol")
    .option("--host <host>", "HOST: listen address")
    .option("--data-dir <dir>", "MODELSERVICE_DATA_DIR: where the database and the dev secret live")
    .action(async (o: { port?: string; host?: string; dataDir?: string }) => {
      if (o.port !== undefined) process.env.PORT = o.port;
      if (o.host !== undefined) process.env.HOST = o.host;
      if (o.dataDir !== undefined) process.env.MODELSERVICE_DATA_DIR = o.dataDir;
      // main.ts starts the service when loaded and owns the process from then on (signals, exit).
      await import("../main.js");
    });
}

/** Runs one operator command as its own program (`npm run token`, `npm run rotate-keys`). */
export function runStandalone(command: Command): void {
  // Commander's own errors (a bad flag value) are usage errors here too: exit 2.
  command.exitOverride();
  command.parseAsync().catch((e: unknown) => {
    // Commander has already written its own line (or the help).
    if (!(e instanceof CommanderError)) process.stderr.write(errorLine(e) + "\n");
    process.exit(exitCodeOf(e));
  });
}

import { existsSync } from "node:fs";
import { pino } from "pino";
import { startService } from "./app.js";
import { ConfigError, devWorkspace, loadConfig } from "./config.js";
import { mintToken } from "./domain/auth/token-minter.js";
import { scopes } from "./domain/auth/principal.js";
import { CredentialKeyError, CredentialOpenError, CredentialSealer } from "./domain/credentials/credential-sealer.js";
import { serviceKey, serviceKeyNames } from "./domain/credentials/service-keys.js";
import { openStores } from "./open-stores.js";
import { PgDatabase } from "./storage/postgres/pg-database.js";
import { PgModelStore } from "./storage/postgres/pg-model-store.js";
import { CopyRefused, copyIntoPostgres } from "./storage/postgres/pg-store-copy.js";
import { sqliteStoreSource } from "./storage/sqlite/sqlite-store-source.js";
import { summarizeSource, type CopySummary } from "./storage/store-copy.js";
import { traceLogFields } from "./telemetry/trace-log-fields.js";
import { startTracing } from "./telemetry/tracing.js";

/*
 * What the operator commands (src/ops/) ask of the server: each one job over
 * the service's own settings (the environment, README "Settings") and
 * database. Loading this module starts nothing; src/main.ts calls serve().
 */

/** A mistake in the settings (a missing or malformed variable, a bad key): the operator's to fix, not a crash. */
export function isSettingsError(error: unknown): error is Error {
  return error instanceof ConfigError || error instanceof CredentialKeyError || error instanceof CopyRefused;
}

/**
 * Runs the service as this process's one job, as `npm start` does: prints the
 * dev token in dev mode, stops gracefully on SIGTERM/SIGINT and exits; a
 * failure to start is one line on stderr and exit 1.
 */
export async function serve(): Promise<void> {
  try {
    await startUntilSignalled();
  } catch (e) {
    process.stderr.write(`modelservice: ${e instanceof ConfigError ? e.message : (e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  }
}

async function startUntilSignalled(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, mixin: traceLogFields });
  const tracing = await startTracing(logger);
  const service = await startService(config, logger, tracing.tracer);
  if (config.devMode && config.tokenKeys.kind === "secret") {
    // Thirty days, or less when MODELSERVICE_JWT_MAX_LIFETIME_SECONDS allows less.
    const ttl = Math.min(30 * 24 * 60 * 60, config.jwtMaxLifetimeSeconds ?? Infinity);
    const token = await mintToken({
      ...devWorkspace,
      secret: config.tokenKeys.secret,
      scope: scopes.join(" "),
      ttl,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
    // Printed on purpose, once, in dev mode only: the README's first request uses it.
    process.stdout.write(
      `\nDev mode (no MODELSERVICE_JWT_SECRET): token for workspace ${devWorkspace.workspaceId}, valid until ${new Date(Date.now() + ttl * 1000).toISOString()}:\n\n` +
        `export MODELSERVICE_TOKEN=${token}\n\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    service
      .close()
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        (e: unknown) => {
          logger.error({ err: e }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

export interface TokenClaims {
  workspaceId: string;
  accountId: string;
  profileId: string;
  scope: string;
  /** A lifetime as jose reads it ("1h", "30d"). */
  ttl: string;
}

/** A bearer token signed with the configured HS256 secret (dev mode: the secret under the data directory). */
export async function mintOperatorToken(claims: TokenClaims): Promise<string> {
  const config = loadConfig();
  if (config.tokenKeys.kind !== "secret") {
    throw new ConfigError("MODELSERVICE_JWKS_FILE is set: tokens are minted by the key holder, not here");
  }
  return mintToken({ ...claims, secret: config.tokenKeys.secret, issuer: config.jwtIssuer, audience: config.jwtAudience });
}


/** Opens the database, which applies the pending migrations, and closes it again. */
export async function migrateDatabase(): Promise<{ path: string; schemaVersion: number }> {
  const stores = await openStores(loadConfig());
  try {
    return { path: stores.location, schemaVersion: stores.schemaVersion };
  } finally {
    await stores.models.close();
  }
}

export interface RotationOutcome {
  resealed: number;
  /** Models already sealed under the current key. */
  current: number;
  currentKeyId: string;
  /** One message per model whose credentials could not be opened. */
  failed: string[];
  /** One message per service HMAC key that could not be opened. */
  keysFailed: string[];
}

/**
 * Re-seals every stored credential, and the service's HMAC keys, under
 * MODELSERVICE_ENCRYPTION_KEY, opening old ones with
 * MODELSERVICE_ENCRYPTION_KEYS_OLD. Safe to run while the service runs and
 * to run again.
 */
export async function rotateKeys(): Promise<RotationOutcome> {
  const config = loadConfig();
  const sealer = CredentialSealer.fromSettings(config.encryptionKey, config.encryptionKeysOld);
  const store = (await openStores(config)).models;
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
  return { resealed, current, currentKeyId: sealer.currentKeyId, failed, keysFailed };
}

export interface StoreMigration {
  /** False on a dry run: what would be copied. */
  copied: boolean;
  /** The target as a URL without its password. */
  target: string;
  summary: CopySummary;
}

/**
 * Copies the SQLite database at `from` into the new PostgreSQL database at
 * `to` as it is, verifying counts and checksums (src/storage/store-copy.ts);
 * a dry run reads the source and writes nothing.
 */
export async function migrateStore(from: string, to: string, dryRun: boolean): Promise<StoreMigration> {
  if (!existsSync(from)) throw new ConfigError(`--from: no SQLite database at ${from}`);
  if (!/^postgres(ql)?:\/\//.test(to)) throw new ConfigError("--to: expected a postgres:// URL");
  const target = new URL(to);
  target.password = "";
  const source = sqliteStoreSource(from);
  try {
    if (dryRun) return { copied: false, target: target.toString(), summary: summarizeSource(source) };
    const db = new PgDatabase({ url: to, poolSize: 1, statementTimeoutMs: 0, connectTimeoutMs: 10_000 });
    try {
      await PgModelStore.open(db);
      return { copied: true, target: target.toString(), summary: (await copyIntoPostgres(db, source)).target };
    } finally {
      await db.close();
    }
  } finally {
    await source.close();
  }
}

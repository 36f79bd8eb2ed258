import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JSONWebKeySet } from "jose";
import type { TokenKeys } from "./domain/auth/token-verifier.js";
import { devEncryptionKey } from "./domain/credentials/encryption-key.js";

/** Every setting of the service, read from the environment (README "Settings"). */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databasePath: string;
  /** MODELSERVICE_DB as a postgres:// or postgresql:// URL: the PostgreSQL store; undefined = SQLite at databasePath. */
  postgresUrl?: string;
  /** PostgreSQL: connections in each process's pool at most. */
  pgPoolSize: number;
  /** PostgreSQL: a statement running longer is cancelled (statement_timeout); 0 = no limit. */
  pgStatementTimeoutMs: number;
  /** PostgreSQL: time to open a connection before a call fails Unavailable. */
  pgConnectTimeoutMs: number;
  tokenKeys: TokenKeys;
  /** True when no MODELSERVICE_JWT_SECRET or MODELSERVICE_JWKS_FILE is set: a secret under dataDir signs tokens. */
  devMode: boolean;
  jwtIssuer?: string;
  jwtAudience?: string;
  /** Seconds of clock difference forgiven when checking a token's exp, nbf and iat. */
  jwtClockSkewSeconds: number;
  /** The longest token lifetime (exp - iat) accepted, in seconds; undefined = any. */
  jwtMaxLifetimeSeconds?: number;
  /** "*" or the allowed origins. */
  corsOrigins: "*" | string[];
  maxBodyBytes: number;
  /** Heap bytes the read cache of GetModel and ListModels answers may hold, keys included. */
  readCacheBytes: number;
  /** Deepest nesting of objects and arrays a JSON request may have. */
  maxJsonDepth: number;
  /** Key credentials are sealed with (base64 or hex, 32 bytes); dev mode keeps one under dataDir. */
  encryptionKey: string;
  /** Retired keys still accepted for opening, comma-separated. */
  encryptionKeysOld: string;
  /** How long a soft-deleted model stays restorable. */
  purgeAfterMs: number;
  shutdownGraceMs: number;
  logLevel: string;
  /** Per-token rate limit: tokens per second of each bearer token's bucket; undefined = no limit. */
  rateLimitRps?: number;
  /** Per-token rate limit: bucket capacity (calls at once); defaults to max(1, ceil(rateLimitRps)). */
  rateLimitBurst?: number;
  /** HTTP/1.1: time a client has to send its request headers (slowloris guard). */
  headersTimeoutMs: number;
  /** HTTP/1.1: time a client has to send its whole request, body included; 0 = none. */
  requestTimeoutMs: number;
  /** HTTP/1.1: how long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
  /** HTTP/2: concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** HTTP/2: a connection without open streams for this long is closed (GOAWAY); 0 = never. */
  idleTimeoutMs: number;
  /** Open connections at most; more are closed on arrival. */
  maxConnections: number;
  /** Open connections of one client address at most. */
  maxConnectionsPerClient: number;
  /** HTTP/2: request bytes a connection may have sent and not had read, over all its streams (sets each stream's flow-control window). */
  maxConnectionBufferBytes: number;
  /** HTTP/2 streams open at once over all connections; more are refused. */
  maxOpenStreams: number;
  /** The web console's built files; undefined = dist/console of this package. */
  consoleDir?: string;
  /** WatchModels: how long the change log keeps changes (older resume tokens end OutOfRange). */
  watchRetentionMs: number;
  /** WatchModels: an idle stream gets a BOOKMARK this often. */
  watchBookmarkMs: number;
  /** WatchModels: how often the change log is polled for commits of any process on the database. */
  watchPollMs: number;
  /** WatchModels: changes a stream may have queued unsent before it ends ResourceExhausted. */
  watchBufferEvents: number;
  /** WatchModels: streams open at once per caller (workspace and token subject). */
  watchMaxPerToken: number;
  /** WatchModels: streams open at once in the process. */
  watchMaxPerProcess: number;
  /** Price-package provider ids the catalog is built from. */
  catalogProviders: string[];
  /** Whether RefreshCatalog may fetch a data file from an https URL. */
  catalogFetchUrls: boolean;
  /** Largest catalog data file read from a path or URL, in bytes. */
  catalogMaxBytes: number;
  /** Minutes between scheduled refreshes from the bundled data; 0 = none. */
  catalogRefreshMinutes: number;
}

export class ConfigError extends Error {}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return n;
}

/** Per-token rate limit settings: both undefined (off) unless MODELSERVICE_RATE_LIMIT_RPS is set. */
function rateLimit(env: NodeJS.ProcessEnv): { rateLimitRps?: number; rateLimitBurst?: number } {
  const rpsText = env.MODELSERVICE_RATE_LIMIT_RPS ?? "";
  const burstText = env.MODELSERVICE_RATE_LIMIT_BURST ?? "";
  if (rpsText === "") {
    if (burstText !== "") throw new ConfigError("MODELSERVICE_RATE_LIMIT_BURST needs MODELSERVICE_RATE_LIMIT_RPS");
    return {};
  }
  const rps = Number(rpsText);
  if (!Number.isFinite(rps) || rps <= 0 || rps > 1_000_000) {
    throw new ConfigError(`MODELSERVICE_RATE_LIMIT_RPS must be a number above 0 and at most 1000000, not "${rpsText}"`);
  }
  const burst = integer(env, "MODELSERVICE_RATE_LIMIT_BURST", Math.max(1, Math.ceil(rps)), 1, 1_000_000);
  return { rateLimitRps: rps, rateLimitBurst: burst };
}

/**
 * HTTP server timeouts and limits; node requires the headers timeout to fit
 * in the request timeout, and each HTTP/2 stream gets at least 1 KiB of the
 * connection's buffer as its flow-control window.
 */
function serverLimits(env: NodeJS.ProcessEnv) {
  const headersTimeoutMs = integer(env, "MODELSERVICE_HEADERS_TIMEOUT_MS", 10_000, 100, 600_000);
  const requestTimeoutMs = integer(env, "MODELSERVICE_REQUEST_TIMEOUT_MS", 60_000, 0, 3_600_000);
  if (requestTimeoutMs !== 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError("MODELSERVICE_HEADERS_TIMEOUT_MS must not exceed MODELSERVICE_REQUEST_TIMEOUT_MS");
  }
  const maxConcurrentStreams = integer(env, "MODELSERVICE_MAX_CONCURRENT_STREAMS", 100, 1, 10_000);
  const maxConnectionBufferBytes = integer(env, "MODELSERVICE_MAX_CONNECTION_BUFFER_BYTES", 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024);
  if (maxConnectionBufferBytes < 1024 * maxConcurrentStreams) {
    throw new ConfigError("MODELSERVICE_MAX_CONNECTION_BUFFER_BYTES must be at least 1024 × MODELSERVICE_MAX_CONCURRENT_STREAMS");
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: integer(env, "MODELSERVICE_KEEP_ALIVE_TIMEOUT_MS", 5_000, 100, 600_000),
    maxConcurrentStreams,
    idleTimeoutMs: integer(env, "MODELSERVICE_IDLE_TIMEOUT_MS", 300_000, 0, 86_400_000),
    maxConnections: integer(env, "MODELSERVICE_MAX_CONNECTIONS", 1024, 1, 1_000_000),
    maxConnectionsPerClient: integer(env, "MODELSERVICE_MAX_CONNECTIONS_PER_CLIENT", 128, 1, 1_000_000),
    maxConnectionBufferBytes,
    maxOpenStreams: integer(env, "MODELSERVICE_MAX_OPEN_STREAMS", 4096, 1, 1_000_000),
  };
}

/** WatchModels settings (README "Settings"). */
function watchSettings(env: NodeJS.ProcessEnv) {
  return {
    watchRetentionMs: integer(env, "MODELSERVICE_WATCH_RETENTION_DAYS", 7, 1, 3650) * 24 * 60 * 60 * 1000,
    watchBookmarkMs: integer(env, "MODELSERVICE_WATCH_BOOKMARK_SECONDS", 15, 1, 3600) * 1000,
    watchPollMs: integer(env, "MODELSERVICE_WATCH_POLL_MS", 15, 1, 1000),
    watchBufferEvents: integer(env, "MODELSERVICE_WATCH_BUFFER_EVENTS", 10_000, 1, 1_000_000),
    watchMaxPerToken: integer(env, "MODELSERVICE_WATCH_MAX_PER_TOKEN", 16, 1, 100_000),
    watchMaxPerProcess: integer(env, "MODELSERVICE_WATCH_MAX_PER_PROCESS", 5_000, 1, 1_000_000),
  };
}

/** The store: a postgres:// URL in MODELSERVICE_DB selects PostgreSQL, anything else is SQLite's file path. */
function storeSettings(env: NodeJS.ProcessEnv, dataDir: string) {
  const db = env.MODELSERVICE_DB || join(dataDir, "modelservice.db");
  const postgres = /^postgres(ql)?:\/\//.test(db);
  return {
    databasePath: postgres ? "" : db,
    postgresUrl: postgres ? db : undefined,
    pgPoolSize: integer(env, "MODELSERVICE_PG_POOL_SIZE", 10, 1, 1000),
    pgStatementTimeoutMs: integer(env, "MODELSERVICE_PG_STATEMENT_TIMEOUT_MS", 30_000, 0, 3_600_000),
    pgConnectTimeoutMs: integer(env, "MODELSERVICE_PG_CONNECT_TIMEOUT_MS", 5_000, 1_000, 600_000),
  };
}

/** The catalog's providers by default: the major providers, no aggregators (README "The catalog"). */
export const defaultCatalogProviders = [
  "openai", "anthropic", "google", "mistral", "deepseek", "x-ai", "cohere", "aws", "azure", "groq", "together", "fireworks",
];

/** Catalog settings (README "Settings"). */
function catalogSettings(env: NodeJS.ProcessEnv) {
  const providers = (env.MODELSERVICE_CATALOG_PROVIDERS ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "");
  const bad = providers.find((p) => !/^[a-z0-9][a-z0-9-]*$/.test(p));
  if (bad !== undefined) throw new ConfigError(`MODELSERVICE_CATALOG_PROVIDERS: "${bad}" is not a provider id`);
  const fetchText = env.MODELSERVICE_CATALOG_FETCH_URLS ?? "false";
  if (fetchText !== "true" && fetchText !== "false") {
    throw new ConfigError(`MODELSERVICE_CATALOG_FETCH_URLS must be "true" or "false", not "${fetchText}"`);
  }
  return {
    catalogProviders: providers.length > 0 ? [...new Set(providers)] : defaultCatalogProviders,
    catalogFetchUrls: fetchText === "true",
    catalogMaxBytes: integer(env, "MODELSERVICE_CATALOG_MAX_BYTES", 32 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    catalogRefreshMinutes: integer(env, "MODELSERVICE_CATALOG_REFRESH_MINUTES", 0, 0, 7 * 24 * 60),
  };
}

/** The workspace of dev mode: its token is printed at start and offered by the console (GET /console/dev-token). */
export const devWorkspace = { workspaceId: "ws_dev", accountId: "acct_dev", profileId: "profile_dev" } as const;

/** The dev-mode signing secret: created once under the data directory, readable only by its owner. */
export function devSecret(dataDir: string): Uint8Array {
  const path = join(dataDir, "dev-jwt-secret");
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(path, randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return new TextEncoder().encode(readFileSync(path, "utf8").trim());
}

function tokenKeys(env: NodeJS.ProcessEnv, dataDir: string): { keys: TokenKeys; devMode: boolean } {
  const secret = env.MODELSERVICE_JWT_SECRET;
  const jwksFile = env.MODELSERVICE_JWKS_FILE;
  if (secret && jwksFile) throw new ConfigError("set MODELSERVICE_JWT_SECRET or MODELSERVICE_JWKS_FILE, not both");
  if (secret) {
    if (secret.length < 32) throw new ConfigError("MODELSERVICE_JWT_SECRET must be at least 32 characters");
    return { keys: { kind: "secret", secret: new TextEncoder().encode(secret) }, devMode: false };
  }
  if (jwksFile) {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readFileSync(jwksFile, "utf8")) as JSONWebKeySet;
    } catch (e) {
      throw new ConfigError(`MODELSERVICE_JWKS_FILE "${jwksFile}": ${(e as Error).message}`);
    }
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
      throw new ConfigError(`MODELSERVICE_JWKS_FILE "${jwksFile}" has no keys`);
    }
    return { keys: { kind: "jwks", jwks }, devMode: false };
  }
  return { keys: { kind: "secret", secret: devSecret(dataDir) }, devMode: true };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = env.MODELSERVICE_DATA_DIR || "./data";
  const { keys, devMode } = tokenKeys(env, dataDir);
  const origins = (env.MODELSERVICE_CORS_ORIGINS ?? "*").split(",").map((o) => o.trim()).filter((o) => o !== "");
  return {
    port: integer(env, "PORT", 8080, 0, 65535),
    host: env.HOST || "0.0.0.0",
    dataDir,
    ...storeSettings(env, dataDir),
    tokenKeys: keys,
    devMode,
    jwtIssuer: env.MODELSERVICE_JWT_ISSUER || undefined,
    jwtAudience: env.MODELSERVICE_JWT_AUDIENCE || undefined,
    jwtClockSkewSeconds: integer(env, "MODELSERVICE_JWT_CLOCK_SKEW_SECONDS", 60, 0, 3600),
    jwtMaxLifetimeSeconds: env.MODELSERVICE_JWT_MAX_LIFETIME_SECONDS
      ? integer(env, "MODELSERVICE_JWT_MAX_LIFETIME_SECONDS", 0, 1, 10 * 366 * 24 * 60 * 60)
      : undefined,
    corsOrigins: origins.length === 0 || origins.includes("*") ? "*" : origins,
    maxBodyBytes: integer(env, "MODELSERVICE_MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    readCacheBytes: integer(env, "MODELSERVICE_READ_CACHE_BYTES", 4 * 1024 * 1024, 0, 1024 * 1024 * 1024),
    maxJsonDepth: integer(env, "MODELSERVICE_MAX_JSON_DEPTH", 64, 8, 1000),
    encryptionKey: env.MODELSERVICE_ENCRYPTION_KEY || devEncryptionKey(dataDir),
    encryptionKeysOld: env.MODELSERVICE_ENCRYPTION_KEYS_OLD ?? "",
    purgeAfterMs: integer(env, "MODELSERVICE_PURGE_AFTER_DAYS", 30, 0, 3650) * 24 * 60 * 60 * 1000,
    shutdownGraceMs: integer(env, "MODELSERVICE_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    logLevel: env.LOG_LEVEL || "info",
    ...rateLimit(env),
    ...serverLimits(env),
    consoleDir: env.MODELSERVICE_CONSOLE_DIR || undefined,
    ...watchSettings(env),
    ...catalogSettings(env),
  };
}

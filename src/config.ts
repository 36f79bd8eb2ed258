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
  tokenKeys: TokenKeys;
  /** True when no MODELSERVICE_JWT_SECRET or MODELSERVICE_JWKS_FILE is set: a secret under dataDir signs tokens. */
  devMode: boolean;
  jwtIssuer?: string;
  jwtAudience?: string;
  /** "*" or the allowed origins. */
  corsOrigins: "*" | string[];
  maxBodyBytes: number;
  /** Key credentials are sealed with (base64 or hex, 32 bytes); dev mode keeps one under dataDir. */
  encryptionKey: string;
  /** Retired keys still accepted for opening, comma-separated. */
  encryptionKeysOld: string;
  /** How long a soft-deleted model stays restorable. */
  purgeAfterMs: number;
  shutdownGraceMs: number;
  logLevel: string;
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
    databasePath: env.MODELSERVICE_DB || join(dataDir, "modelservice.db"),
    tokenKeys: keys,
    devMode,
    jwtIssuer: env.MODELSERVICE_JWT_ISSUER || undefined,
    jwtAudience: env.MODELSERVICE_JWT_AUDIENCE || undefined,
    corsOrigins: origins.length === 0 || origins.includes("*") ? "*" : origins,
    maxBodyBytes: integer(env, "MODELSERVICE_MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    encryptionKey: env.MODELSERVICE_ENCRYPTION_KEY || devEncryptionKey(dataDir),
    encryptionKeysOld: env.MODELSERVICE_ENCRYPTION_KEYS_OLD ?? "",
    purgeAfterMs: integer(env, "MODELSERVICE_PURGE_AFTER_DAYS", 30, 0, 3650) * 24 * 60 * 60 * 1000,
    shutdownGraceMs: integer(env, "MODELSERVICE_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    logLevel: env.LOG_LEVEL || "info",
  };
}

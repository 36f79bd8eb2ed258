import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { inject } from "vitest";
import type { OpenedStores } from "../../src/storage/opened-stores.js";
import { openPostgresStore } from "../../src/storage/postgres/open-postgres-store.js";
import { openSqliteStore } from "../../src/storage/sqlite/open-sqlite-store.js";
import { createDatabase, testStore } from "./postgres.js";

/**
 * A second connection on a test service's database, SQLite file or
 * PostgreSQL URL alike, for what a test must stage or see below the API
 * (rows a crash would leave, bytes tampered at rest, the change log aged).
 * Statements use `?` placeholders on both; keep them to SQL both stores speak.
 */
export interface TestDatabase {
  all<T>(statement: string, params?: unknown[]): Promise<T[]>;
  /** Returns how many rows the statement changed. */
  run(statement: string, params?: unknown[]): Promise<number>;
  /** Every row of every table, as arrays of column values, by table name. */
  tables(): Promise<TableRows[]>;
  /** A digest of the content of every table. */
  contentDigest(): Promise<string>;
  /** Changes whenever a write commits, by any connection (SQLite: data_version; PostgreSQL: each table's row count and newest xmin). */
  writeMark(): Promise<string>;
  close(): Promise<void>;
}

export interface TableRows {
  name: string;
  rows: unknown[][];
}

/** `location` is MODELSERVICE_DB as the service was given it (TestService.database). */
export function openTestDatabase(location: string, options: { readonly?: boolean } = {}): TestDatabase {
  return /^postgres(ql)?:\/\//.test(location) ? postgresDatabase(location) : sqliteDatabase(location, options.readonly ?? false);
}

function digestOf(tables: TableRows[]): string {
  const hash = createHash("sha256");
  for (const { name, rows } of tables) {
    const lines = rows.map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).sort();
    hash.update(`${name}\n${lines.join("\n")}\n`);
  }
  return hash.digest("hex");
}

function sqliteDatabase(path: string, readonly: boolean): TestDatabase {
  const db = new Database(path, { readonly, fileMustExist: true });
  const names = () => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  const tables = async () => names().map((name) => ({ name, rows: db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).raw().all() as unknown[][] }));
  return {
    all: async <T>(statement: string, params: unknown[] = []) => db.prepare(statement).all(...params) as T[],
    run: async (statement, params = []) => db.prepare(statement).run(...params).changes,
    tables,
    contentDigest: async () => digestOf(await tables()),
    writeMark: async () => String(db.pragma("data_version", { simple: true })),
    close: async () => void db.close(),
  };
}

function postgresDatabase(url: string): TestDatabase {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => undefined,
    types: { bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
  });
  const numbered = (statement: string) => {
    let n = 0;
    return statement.replace(/\?/g, () => `$${++n}`);
  };
  const params = (values: unknown[]) => values as postgres.ParameterOrJSON<never>[];
  const names = async () =>
    (await sql<Array<{ name: string }>>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`).map((t) => t.name);
  const tables = async () => {
    const all: TableRows[] = [];
    for (const name of await names()) all.push({ name, rows: (await sql.unsafe(`SELECT * FROM "${name}"`).values()) as unknown[][] });
    return all;
  };
  return {
    all: async <T>(statement: string, values: unknown[] = []) => [...(await sql.unsafe(numbered(statement), params(values)))] as T[],
    run: async (statement, values = []) => (await sql.unsafe(numbered(statement), params(values))).count,
    tables,
    contentDigest: async () => digestOf(await tables()),
    async writeMark() {
      // A committed insert or update leaves a row with a newer xmin; a delete lowers a count.
      const parts = (await names()).map((name) => `(SELECT count(*) || ':' || coalesce(max(xmin::text::bigint), 0) FROM "${name}")`);
      const [row] = await sql.unsafe<Array<{ mark: string }>>(`SELECT concat_ws(',', ${parts.join(", ")}) AS mark`);
      return row!.mark;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Opens (and migrates) the stores on a test service's database (`location` as TestService.database) while the service is stopped, to stage rows through the store itself. */
export function openTestStores(location: string): Promise<OpenedStores> {
  return /^postgres(ql)?:\/\//.test(location)
    ? openPostgresStore({ url: location, poolSize: 2, statementTimeoutMs: 0, connectTimeoutMs: 5_000 })
    : Promise.resolve(openSqliteStore(location));
}

/** A fresh database of the store the suite runs on, to stage rows through the store itself before a service starts on it. */
export interface StagedDatabase {
  /** MODELSERVICE_DATA_DIR and MODELSERVICE_DB for startTestService. */
  env: { MODELSERVICE_DATA_DIR: string; MODELSERVICE_DB: string };
  /** Opens (and migrates) the stores on it. */
  open(): Promise<OpenedStores>;
  /** Deletes the database and the directory. */
  drop(): Promise<void>;
}

export async function stagedDatabase(): Promise<StagedDatabase> {
  const dir = mkdtempSync(join(tmpdir(), "modelservice-staged-"));
  const postgresDb = testStore() === "postgres" ? await createDatabase(inject("postgresAdminUrl")) : undefined;
  const location = postgresDb?.url ?? join(dir, "modelservice.db");
  return {
    env: { MODELSERVICE_DATA_DIR: dir, MODELSERVICE_DB: location },
    open: () => openTestStores(location),
    async drop() {
      await postgresDb?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

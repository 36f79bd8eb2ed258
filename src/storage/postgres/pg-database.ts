import postgres, { type Sql, type TransactionSql } from "postgres";
import { DeadlinePassed, StoreBusy, StoreUnavailable } from "../store-errors.js";

export interface PostgresOptions {
  /** postgres://user:pass@host:port/db */
  url: string;
  /** Connections in the pool at most. */
  poolSize: number;
  /** Any one statement longer than this is cancelled (statement_timeout); 0 = no limit. */
  statementTimeoutMs: number;
  /** Time to open a connection before the call fails Unavailable. */
  connectTimeoutMs: number;
}

/** Connection-level failures: the database is down, restarting, or the connection broke. */
const connectionLostCodes = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** Lost races that rolled back: nothing was written, a retry may succeed (StoreBusy); they say nothing about the database's health. */
const retryableCodes = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

/**
 * Time left before a write's deadline under which it rolls back rather than
 * commit: COMMIT is a round trip, and the call answers DeadlineExceeded at
 * the deadline, so a commit begun closer to it could land after that answer.
 */
const commitAllowanceMs = 50;

/** How often a database marked down is probed until it answers again. */
const probeMs = 250;

function code(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** Whether the error says the database could not be reached or dropped the connection (SQLSTATE class 08 too). */
function isConnectionLost(e: unknown): boolean {
  const c = code(e);
  return c !== undefined && (connectionLostCodes.has(c) || c.startsWith("08"));
}

export function isUniqueViolation(e: unknown, constraint: string): boolean {
  return code(e) === "23505" && (e as { constraint_name?: string }).constraint_name === constraint;
}

/**
 * The pool of one PostgreSQL database, shared by the stores of a process,
 * and the translation of its failures into the store's typed errors: a
 * database that cannot be reached, or a connection lost (even during
 * COMMIT, when the outcome is unknown), is StoreUnavailable; a write
 * past its deadline rolls back with DeadlinePassed.
 *
 * Once a connection is lost the database is marked down: calls fail at once
 * (no wait for a connect timeout each) and `available` is false (/readyz)
 * until a probe gets an answer again, every 250 ms, without a restart.
 */
export class PgDatabase {
  readonly sql: Sql;
  /** False from a lost connection until the database answers again. */
  available = true;
  private probe?: NodeJS.Timeout;
  private closed = false;

  constructor(options: PostgresOptions) {
    this.sql = postgres(options.url, {
      max: options.poolSize,
      connect_timeout: Math.max(1, Math.ceil(options.connectTimeoutMs / 1000)),
      idle_timeout: 60,
      onnotice: () => undefined,
      connection: { application_name: "modelservice", statement_timeout: options.statementTimeoutMs },
      types: {
        // Epoch milliseconds, versions and counts: all within 2^53.
        bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) },
      },
    });
  }

  /** Runs `work`, its driver failures as the store's typed errors. */
  async run<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    this.failFast();
    try {
      return await work(this.sql);
    } catch (e) {
      throw this.translated(e);
    }
  }

  /**
   * One transaction of `work`; past `deadline` (epoch ms) no statement
   * runs on (statement_timeout) and nothing commits, nor does a commit begin
   * within commitAllowanceMs of it: DeadlinePassed.
   */
  async transaction<T>(work: (tx: TransactionSql) => Promise<T>, deadline = Infinity): Promise<T> {
    const inTime = (allowance = 0) => {
      if (Date.now() >= deadline - allowance) throw new DeadlinePassed();
    };
    this.failFast();
    try {
      inTime();
      return (await this.sql.begin(async (tx) => {
        if (Number.isFinite(deadline)) await tx.unsafe(`SET LOCAL statement_timeout = ${Math.max(1, Math.ceil(deadline - Date.now()))}`);
        const result = await work(tx);
        inTime(commitAllowanceMs);
        return result;
      })) as T;
    } catch (e) {
      if (code(e) === "57014" && Date.now() >= deadline) throw new DeadlinePassed();
      throw this.translated(e);
    }
  }

  /** The database's size on disk (pg_database_size), in bytes; NaN while it does not answer (so /metrics still does). */
  async sizeBytes(): Promise<number> {
    try {
      const [row] = await this.run((sql) => sql<Array<{ bytes: number }>>`SELECT pg_database_size(current_database()) AS bytes`);
      return row!.bytes;
    } catch {
      return Number.NaN;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probe);
    return this.sql.end({ timeout: 5 });
  }

  private failFast(): void {
    if (this.closed) throw new Error("the database is not open: the store was closed");
    if (!this.available) throw new StoreUnavailable(new Error("the database did not answer the last probe"));
  }

  private translated(e: unknown): unknown {
    if (isConnectionLost(e)) {
      this.markDown();
      return new StoreUnavailable(e);
    }
    const c = code(e);
    return c !== undefined && retryableCodes.has(c) ? new StoreBusy(e) : e;
  }

  private markDown(): void {
    if (!this.available) return;
    this.available = false;
    const probe = () => {
      this.sql`SELECT 1`.then(
        () => (this.available = true),
        () => (this.probe = setTimeout(probe, probeMs).unref()),
      );
    };
    this.probe = setTimeout(probe, probeMs).unref();
  }
}

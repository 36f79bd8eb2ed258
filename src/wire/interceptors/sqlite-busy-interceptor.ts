import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { StoreUnavailableError } from "../../storage/model-store.js";

/**
 * True for SQLite's "database is busy" (SQLITE_BUSY and its extended codes),
 * as better-sqlite3's SqliteError reports it once busy_timeout has run out:
 * another process held the write lock too long.
 */
export function isSqliteBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_"));
}

function mapped(e: unknown): unknown {
  if (e instanceof StoreUnavailableError) return new ConnectError(e.message, Code.Unavailable, undefined, undefined, e);
  return isSqliteBusy(e) ? new ConnectError("database is busy, retry", Code.Unavailable, undefined, undefined, e) : e;
}

/**
 * SQLITE_BUSY reaches a client as Unavailable (retryable), never as
 * Unknown/Internal. Every write is one IMMEDIATE transaction, so a busy
 * error means nothing was written.
 */
export const sqliteBusyInterceptor: Interceptor = (next) => async (req) => {
  let res;
  try {
    res = await next(req);
  } catch (e) {
    throw mapped(e);
  }
  if (!res.stream) return res;
  const message = res.message;
  async function* guarded() {
    try {
      yield* message;
    } catch (e) {
      throw mapped(e);
    }
  }
  return { ...res, message: guarded() } satisfies StreamResponse;
};

/*
 * The failures every store adapter reports in the same terms, whatever its
 * database: the domain and the wire see these, never a driver's error codes.
 * (A stale version or a taken unique key is no error: writes report them as
 * their WriteOutcome.)
 */

/** Another writer held the database too long (past the busy timeout); nothing was written, a retry may succeed. */
export class StoreBusy extends Error {
  constructor(cause: unknown) {
    super("database is busy, retry", { cause });
  }
}

/** A write's deadline passed before its transaction could commit; nothing was written. */
export class DeadlinePassed extends Error {
  constructor() {
    super("deadline passed before the write committed; nothing was written");
  }
}

/**
 * The database could not be reached, or lost the connection (for a write
 * maybe during its commit: its outcome is unknown, and its request id makes
 * the retry safe). Retryable.
 */
export class StoreUnavailable extends Error {
  constructor(cause: unknown) {
    super("the database is unavailable, retry", { cause });
  }
}

/**
 * The failures every store adapter reports in the same terms, whatever its
 * database: the domain and the wire see these, never a driver's error codes.
 */
export class StoreError extends Error {}

/** Another writer held the database too long (past the busy timeout); nothing was written, a retry may succeed. */
export class StoreBusy extends StoreError {
  constructor(cause: unknown) {
    super("database is busy, retry", { cause });
  }
}

/** A write's deadline passed before its transaction could commit; nothing was written. */
export class DeadlinePassed extends StoreError {
  constructor() {
    super("deadline passed before the write committed; nothing was written");
  }
}

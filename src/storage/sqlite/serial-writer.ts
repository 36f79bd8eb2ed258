import Database from "better-sqlite3";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import { StoreBusy } from "../store-errors.js";

/** How long a chunk of a transaction's writes (~60 µs each) may hold the event loop; timed, so that it holds on a loaded machine too. */
const chunkMs = 2;

/** How long the writer connection itself waits for another process's write lock before the wait goes asynchronous. */
const syncBusyMs = 10;

function isBusy(e: unknown): boolean {
  return e instanceof Database.SqliteError && e.code.startsWith("SQLITE_BUSY");
}

/**
 * The one connection that writes, and the queue in front of it. Each write
 * transaction has the connection to itself; the others wait their turn
 * asynchronously, so the event loop never blocks on this process's own
 * write lock. A long transaction runs in chunks with the event loop let in
 * between (other calls, health probes) while it stays open: readers on
 * another connection see none of it until it commits (WAL snapshots).
 * Another process holding the write lock is waited for asynchronously too,
 * up to busyTimeoutMs, then StoreBusy is thrown.
 */
export class SerialWriter {
  /** True while a write's statements run: only then may statements run on `db`. */
  writing = false;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;

  /** yieldBetweenChunks false: reads share `db`, so a transaction must not let them in before it commits. */
  constructor(
    readonly db: Database.Database,
    private readonly busyTimeoutMs: number,
    private readonly yieldBetweenChunks: boolean,
  ) {
    db.pragma(`busy_timeout = ${Math.min(busyTimeoutMs, syncBusyMs)}`);
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.commit = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
  }

  /** One IMMEDIATE transaction of `work`'s statements; it rolls back if `work` throws. */
  async run<T>(work: () => T): Promise<T> {
    const [result] = await this.runEach([undefined], work);
    return result!;
  }

  /**
   * One IMMEDIATE transaction of step(item) for every item, in chunks with
   * the event loop let in between. `check` runs after each chunk and before
   * the commit: when it throws (a deadline passed), everything rolls back.
   */
  runEach<I, O>(items: readonly I[], step: (item: I, index: number) => O, check: () => void = () => undefined): Promise<O[]> {
    return this.alone(async () => {
      await this.beginWhenFree();
      const results: O[] = [];
      try {
        for (let i = 0; i < items.length; ) {
          if (i > 0 && this.yieldBetweenChunks) await nextTurn();
          this.statements(() => {
            const until = performance.now() + chunkMs;
            do results.push(step(items[i]!, i));
            while (++i < items.length && (performance.now() < until || !this.yieldBetweenChunks));
            check();
          });
        }
        this.statements(() => this.commit.run());
        return results;
      } catch (e) {
        // Some errors (disk full, I/O) have already ended the transaction.
        if (this.db.inTransaction) this.rollback.run();
        throw isBusy(e) ? new StoreBusy(e) : e;
      }
    });
  }

  /** Runs `work` with the connection to itself but outside any transaction (a checkpoint). */
  exclusive<T>(work: () => T): Promise<T> {
    return this.alone(async () => this.statements(work));
  }

  /** Waits for the writes queued so far (before the connection closes). */
  async drain(): Promise<void> {
    await this.tail;
  }

  private alone<T>(work: () => Promise<T>): Promise<T> {
    const done = this.tail.then(work);
    this.tail = done.catch(() => undefined);
    return done;
  }

  private statements<T>(work: () => T): T {
    this.writing = true;
    try {
      return work();
    } finally {
      this.writing = false;
    }
  }

  private async beginWhenFree(): Promise<void> {
    const giveUp = Date.now() + this.busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      try {
        this.begin.run();
        return;
      } catch (e) {
        if (!isBusy(e)) throw e;
        if (Date.now() >= giveUp) throw new StoreBusy(e);
      }
      await sleep(pause);
    }
  }
}

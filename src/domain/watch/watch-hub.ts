import { Code, ConnectError } from "@connectrpc/connect";
import type { ChangeLog, ModelChangeRecord } from "../../storage/change-log.js";
import { eventTypeOf, type ViewedChange, type WatchView } from "./watch-events.js";

export interface WatchLimits {
  /** How often the change log is read for new commits (of this process or another on the database). */
  pollMs: number;
  /** Changes a live watcher may have queued, unsent; past it the watch ends ResourceExhausted. */
  bufferEvents: number;
  /** Watches open at once per caller (workspace and token subject). */
  maxPerToken: number;
  /** Watches open at once in this process. */
  maxPerProcess: number;
}

/** Where the hub reports what the service measures (/metrics). */
export interface WatchObserver {
  watchersChanged(count: number): void;
  pollFailed(error: unknown): void;
}

/** Changes read from the log per query; between two pages the event loop lets streams drain. */
const pageSize = 500;

/** A live watcher: the changes its view sees, queued until its stream sends them. */
export class Subscription {
  readonly queue: ViewedChange[] = [];
  failure?: ConnectError;
  private wake?: () => void;

  constructor(
    readonly view: WatchView,
    /** The last change it has taken (sent or queued). */
    public cursor: number,
    private readonly limit: number,
  ) {}

  offer(change: ModelChangeRecord): void {
    if (change.seq <= this.cursor || this.failure) return;
    this.cursor = change.seq;
    const type = eventTypeOf(this.view, change);
    if (type === undefined) return;
    if (this.queue.length >= this.limit) {
      this.queue.length = 0;
      return this.fail(
        new ConnectError(`the watcher fell more than ${this.limit} changes behind; resume from the last resume token`, Code.ResourceExhausted),
      );
    }
    this.queue.push({ type, change });
    this.signal();
  }

  fail(error: ConnectError): void {
    this.failure ??= error;
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves when there is something to send, the watch must end, or after `ms` ("idle"). */
  waitFor(ms: number, abort: AbortSignal): Promise<"ready" | "idle"> {
    if (this.queue.length > 0 || this.failure || abort.aborted) return Promise.resolve("ready");
    return new Promise((resolve) => {
      const done = (outcome: "ready" | "idle") => () => {
        clearTimeout(timer);
        abort.removeEventListener("abort", onAbort);
        this.wake = undefined;
        resolve(outcome);
      };
      const timer = setTimeout(done("idle"), ms);
      const onAbort = done("ready");
      abort.addEventListener("abort", onAbort, { once: true });
      this.wake = done("ready");
    });
  }
}

/**
 * One per process: polls the change log for commits after the last one it
 * saw (every pollMs, only while watches are open) and hands each to the live
 * subscriptions of its workspace. Bounds the watches per caller and process.
 */
export class WatchHub {
  /** Every change up to here has been offered to the subscriptions registered. */
  position = 0;
  private readonly byWorkspace = new Map<string, Set<Subscription>>();
  private readonly perCaller = new Map<string, number>();
  private open = 0;
  private timer?: NodeJS.Timeout;
  private starting?: Promise<void>;
  private polling = false;
  /** A commit was announced while a poll ran: poll again when it ends. */
  private announced = false;
  private stopListening?: () => Promise<void>;
  private closed = false;

  constructor(
    readonly changes: ChangeLog,
    readonly limits: WatchLimits,
    private readonly observer: WatchObserver,
  ) {}

  /** Counts a new watch against the limits and makes sure the log is being polled; call release() when it ends. */
  async acquire(caller: string): Promise<() => void> {
    if (this.closed) throw shuttingDown();
    if (this.open >= this.limits.maxPerProcess) {
      throw new ConnectError(`this server has its maximum of ${this.limits.maxPerProcess} watches open; retry later`, Code.ResourceExhausted);
    }
    const mine = this.perCaller.get(caller) ?? 0;
    if (mine >= this.limits.maxPerToken) {
      throw new ConnectError(`this token has its maximum of ${this.limits.maxPerToken} watches open`, Code.ResourceExhausted);
    }
    this.perCaller.set(caller, mine + 1);
    this.open++;
    this.observer.watchersChanged(this.open);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.perCaller.get(caller) ?? 1) - 1;
      if (left === 0) this.perCaller.delete(caller);
      else this.perCaller.set(caller, left);
      this.open--;
      this.observer.watchersChanged(this.open);
      if (this.open === 0) this.stop();
    };
    try {
      await this.start();
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  private start(): Promise<void> {
    if (this.timer) return Promise.resolve();
    this.starting ??= this.changes
      .bounds()
      .then(async (bounds) => {
        if (this.timer || this.open === 0 || this.closed) return;
        this.position = bounds.head;
        this.timer = setInterval(() => void this.poll(), this.limits.pollMs);
        // Where the store announces commits, read them at once rather than at the next poll.
        const stopListening = await this.changes.onCommit?.(() => this.announce());
        if (this.timer) this.stopListening = stopListening;
        else await stopListening?.();
      })
      .finally(() => (this.starting = undefined));
    return this.starting;
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    void this.stopListening?.().catch((e: unknown) => this.observer.pollFailed(e));
    this.stopListening = undefined;
  }

  private announce(): void {
    if (!this.timer) return;
    if (this.polling) this.announced = true;
    else void this.poll();
  }

  /** Registers a subscription that has seen every change up to its cursor, which must be at least `position`. */
  subscribe(view: WatchView, cursor: number): Subscription {
    if (this.closed) throw shuttingDown();
    const sub = new Subscription(view, cursor, this.limits.bufferEvents);
    let set = this.byWorkspace.get(view.workspaceId);
    if (!set) this.byWorkspace.set(view.workspaceId, (set = new Set()));
    set.add(sub);
    return sub;
  }

  unsubscribe(sub: Subscription): void {
    const set = this.byWorkspace.get(sub.view.workspaceId);
    set?.delete(sub);
    if (set?.size === 0) this.byWorkspace.delete(sub.view.workspaceId);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (;;) {
        const page = await this.changes.changesAfter(this.position, pageSize);
        if (page.some((change) => change.workspaceId === null)) {
          // A system model's change is a change of every workspace's catalog copy that is virtual.
          for (const [workspaceId, subs] of this.byWorkspace) {
            for (const change of await this.changes.forWorkspace(workspaceId, page)) subs.forEach((sub) => sub.offer(change));
          }
        } else {
          for (const change of page) this.byWorkspace.get(change.workspaceId!)?.forEach((sub) => sub.offer(change));
        }
        if (page.length > 0) this.position = page[page.length - 1]!.seq;
        if (page.length < pageSize || !this.timer) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (e) {
      this.observer.pollFailed(e);
    } finally {
      this.polling = false;
      if (this.announced) {
        this.announced = false;
        void this.poll();
      }
    }
  }

  /** Ends every watch with Unavailable (clients resume elsewhere) and refuses new ones. */
  close(): void {
    this.closed = true;
    this.stop();
    for (const set of this.byWorkspace.values()) for (const sub of set) sub.fail(shuttingDown());
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

export function shuttingDown(): ConnectError {
  return new ConnectError("the server is shutting down; resume the watch from its last resume token", Code.Unavailable);
}

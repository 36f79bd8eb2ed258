import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Long synchronous work (parsing and planning an import of many rows) done
 * in slices of a few milliseconds, with the event loop let in between: other
 * calls and health probes wait one slice at most. Timed rather than counted,
 * so a slice stays short on a loaded machine too.
 */
export class TimeSlice {
  private started = performance.now();

  constructor(private readonly ms = 2) {}

  /** Lets the event loop in if this slice has run its time. */
  async pause(): Promise<void> {
    if (performance.now() - this.started < this.ms) return;
    await nextTurn();
    this.started = performance.now();
  }
}

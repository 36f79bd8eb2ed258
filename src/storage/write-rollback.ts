import type { WriteOutcome } from "./model-store.js";

/*
 * How an adapter undoes writes that did not all happen, in its own
 * transactions and savepoints: the same two signals in every adapter.
 */

/** Thrown inside a transaction to roll it back, carrying the index of the write that failed. */
export class RolledBack extends Error {
  constructor(readonly index: number) {
    super(`write ${index} failed`);
  }
}

/** Thrown inside a savepoint to undo one write that did not happen, carrying its outcome. */
export class Refused extends Error {
  constructor(readonly outcome: WriteOutcome) {
    super(`write refused: ${outcome.kind}`);
  }
}

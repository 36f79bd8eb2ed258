/** The store's failures that reach callers, named for the wire without it importing storage. */
export { DeadlinePassed, StoreBusy, StoreUnavailable } from "../../storage/store-errors.js";

import { Code, ConnectError } from "@connectrpc/connect";
import { WatchEventType, type WatchModelsRequest, type WatchModelsResponse } from "../../../gen/modelservice/v1/model_service_pb.js";
import type { Principal } from "../auth/principal.js";
import { invalidArgument } from "../validation/field-violations.js";
import { parseCheckedFilter, type CheckedFilterNode } from "../search/filter-expression.js";
import type { ResumeTokens } from "./resume-token.js";
import { changeMessage, eventTypeOf, inView, streamMessage, type WatchView } from "./watch-events.js";
import { shuttingDown, type WatchHub } from "./watch-hub.js";

/** Where WatchModels reports what it sends (/metrics). */
export interface WatchSendObserver {
  /** A message sent; lagMs for changes: from commit to send. */
  sent(type: WatchEventType, lagMs?: number): void;
}

export interface ModelWatchOptions {
  /** An idle stream gets a BOOKMARK this often. */
  bookmarkMs: number;
}

/** Changes read per page while a watch replays the log up to the live position. */
const replayPage = 500;

/** WatchModels: the initial state, a replay of the log after a resume token, then the live changes. */
export class ModelWatch {
  constructor(
    private readonly hub: WatchHub,
    private readonly tokens: ResumeTokens,
    private readonly options: ModelWatchOptions,
    private readonly observer: WatchSendObserver,
  ) {}

  /** Checks the request before the stream starts, so that bad input is an error rather than an empty stream. */
  private viewOf(principal: Principal, req: WatchModelsRequest): { view: WatchView; resumeAfter?: number } {
    const filter = req.filter === "" ? undefined : (parseCheckedFilter(req.filter) as CheckedFilterNode);
    const view: WatchView = { workspaceId: principal.workspaceId, filter };
    if (req.resumeToken === "") return { view };
    const seq = this.tokens.decode(req.resumeToken);
    if (seq === undefined) throw invalidArgument([{ field: "resumeToken", description: "is not a resume token of this service" }]);
    return { view, resumeAfter: seq };
  }

  async *watch(principal: Principal, req: WatchModelsRequest, abort: AbortSignal): AsyncGenerator<WatchModelsResponse> {
    const { view, resumeAfter } = this.viewOf(principal, req);
    const release = await this.hub.acquire(`${principal.workspaceId}\0${principal.profileId}`);
    try {
      let cursor: number;
      if (resumeAfter !== undefined) {
        const bounds = await this.hub.changes.bounds();
        if (resumeAfter < bounds.prunedThrough || resumeAfter > bounds.head) {
          throw new ConnectError("the resume token is older than the retained change log; list again, then watch", Code.OutOfRange);
        }
        cursor = resumeAfter;
        yield this.sent(streamMessage(WatchEventType.BOOKMARK, req.resumeToken));
      } else if (req.sendInitialState) {
        const snapshot = await this.hub.changes.snapshot(view.workspaceId);
        for (const model of snapshot.models) {
          if (!inView(view, model)) continue;
          this.check(abort);
          // No token until SYNCED: resuming from the middle of the initial state would skip its rest.
          yield this.sent(streamMessage(WatchEventType.ADDED, "", model, principal.scopes));
        }
        cursor = snapshot.head;
        yield this.sent(streamMessage(WatchEventType.SYNCED, this.tokens.encode(cursor)));
      } else {
        cursor = (await this.hub.changes.bounds()).head;
        yield this.sent(streamMessage(WatchEventType.BOOKMARK, this.tokens.encode(cursor)));
      }
      // Replay from the log, pulled at the client's pace, until live.
      while (cursor < this.hub.position) {
        const page = await this.hub.changes.changesAfter(cursor, replayPage);
        // Pruned while this watch was replaying.
        if (page.length === 0) throw new ConnectError("the change log no longer holds this position; list again, then watch", Code.OutOfRange);
        for (const change of await this.hub.changes.forWorkspace(view.workspaceId, page)) {
          cursor = change.seq;
          const type = eventTypeOf(view, change);
          if (type === undefined) continue;
          this.check(abort);
          yield this.sent(changeMessage({ type, change }, principal.scopes, this.tokens.encode(cursor)), change.committedAt);
        }
        cursor = page[page.length - 1]!.seq;
      }
      this.check(abort);
      const sub = this.hub.subscribe(view, cursor);
      try {
        for (;;) {
          const outcome = await sub.waitFor(this.options.bookmarkMs, abort);
          this.check(abort);
          if (sub.failure) throw sub.failure;
          const next = sub.queue.shift();
          if (next) {
            yield this.sent(changeMessage(next, principal.scopes, this.tokens.encode(next.change.seq)), next.change.committedAt);
          } else if (outcome === "idle") {
            // Nothing queued: every change the view sees up to the hub's position was sent.
            yield this.sent(streamMessage(WatchEventType.BOOKMARK, this.tokens.encode(Math.max(sub.cursor, this.hub.position))));
          }
        }
      } finally {
        this.hub.unsubscribe(sub);
      }
    } finally {
      release();
    }
  }

  private check(abort: AbortSignal): void {
    if (abort.aborted) throw ConnectError.from(abort.reason);
    if (this.hub.isClosed) throw shuttingDown();
  }

  private sent(message: WatchModelsResponse, committedAt?: number): WatchModelsResponse {
    this.observer.sent(message.type, committedAt === undefined ? undefined : Date.now() - committedAt);
    return message;
  }
}

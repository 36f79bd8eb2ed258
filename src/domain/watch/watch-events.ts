import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { WatchEventType, WatchModelsResponseSchema, type WatchModelsResponse } from "../../../gen/modelservice/v1/model_service_pb.js";
import type { ModelChangeRecord } from "../../storage/change-log.js";
import type { ModelRecord } from "../../storage/model-store.js";
import { toModelMessage } from "../models/model-message.js";
import type { CheckedFilterNode } from "../search/filter-expression.js";
import { matchesFilter } from "../search/filter-match.js";

/** What one watcher sees: a workspace, optionally narrowed by a filter. */
export interface WatchView {
  workspaceId: string;
  filter?: CheckedFilterNode;
}

/** A change as one watcher sees it. */
export interface ViewedChange {
  type: WatchEventType;
  change: ModelChangeRecord;
}

function matches(view: WatchView, r: ModelRecord): boolean {
  return view.filter === undefined || matchesFilter(view.filter, r);
}

/** In the view as ListModels shows it: live (not deleted, not hidden by the platform) and matching the filter. */
export function inView(view: WatchView, r: ModelRecord | null): boolean {
  return r !== null && r.deleteTime === null && r.visible && matches(view, r);
}

/**
 * The event a change is for a view, or undefined when the view does not see
 * it: a model entering the view is ADDED (UNDELETED when it was restored), one
 * leaving it DELETED, one staying MODIFIED; PURGED when a model that matched
 * is removed for good.
 */
export function eventTypeOf(view: WatchView, change: ModelChangeRecord): WatchEventType | undefined {
  if (change.workspaceId !== view.workspaceId) return undefined;
  const { before, after } = change;
  if (after === null) return before !== null && matches(view, before) ? WatchEventType.PURGED : undefined;
  const was = inView(view, before);
  const is = inView(view, after);
  if (was && is) return WatchEventType.MODIFIED;
  if (was) return WatchEventType.DELETED;
  if (!is) return undefined;
  return before !== null && before.deleteTime !== null ? WatchEventType.UNDELETED : WatchEventType.ADDED;
}

/** The stream message of a change: the model as GetModel shows it to the caller (last state for PURGED). */
export function changeMessage(viewed: ViewedChange, scopes: ReadonlySet<string>, token: string): WatchModelsResponse {
  const model = viewed.change.after ?? viewed.change.before!;
  return create(WatchModelsResponseSchema, {
    type: viewed.type,
    model: toModelMessage(model, scopes),
    commitTime: timestampFromMs(viewed.change.committedAt),
    resumeToken: token,
  });
}

/** A message about the stream itself (SYNCED, BOOKMARK), or an ADDED of the initial state. */
export function streamMessage(type: WatchEventType, token: string, model?: ModelRecord, scopes?: ReadonlySet<string>): WatchModelsResponse {
  return create(WatchModelsResponseSchema, {
    type,
    model: model && scopes ? toModelMessage(model, scopes) : undefined,
    commitTime: timestampFromMs(Date.now()),
    resumeToken: token,
  });
}

import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Model } from "../../../gen/modelservice/v1/model_pb.js";
import { BadRequestSchema } from "../../../gen/google/rpc/error_details_pb.js";
import {
  CreateModelRequestSchema,
  DeleteModelRequestSchema,
  UpdateModelRequestSchema,
  type BatchCreateModelsRequest,
  type BatchDeleteModelsRequest,
  type BatchUpdateModelsRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import type { ModelRecord, ModelStore } from "../../storage/model-store.js";
import { requireChangeScopes, type ModelChange } from "../auth/change-scopes.js";
import { invalidArgument } from "../validation/field-violations.js";
import { validateRequest } from "../validation/request-validation.js";
import { toModelMessage } from "./model-message.js";
import { isWrite, type Call, type ModelCommits, type Step } from "./model-commits.js";
import type { ModelWrites } from "./model-writes.js";

/** A batch's outcome: every model (all or nothing), or with allow_partial each item's model or error. */
export type BatchOutcome = { models: Model[] } | { results: Array<Model | ConnectError> };

/** An item's error, named after its place in the batch ("requests[2]"), keeping its code. */
export function indexedError(e: unknown, field: string): ConnectError {
  const error = ConnectError.from(e);
  const violations = error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations);
  const prefixed = violations.map((v) => ({ field: `${field}.${v.field}`, description: v.description }));
  const details = prefixed.length > 0 ? [{ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: prefixed }) }] : [];
  return new ConnectError(`${field}: ${error.rawMessage}`, error.code, error.metadata, details);
}

/** InvalidArgument naming the first id that repeats an earlier one: a batch deletes each model once. */
function checkDistinct(ids: readonly string[], field: (i: number) => string): void {
  const first = new Map<string, number>();
  for (const [i, id] of ids.entries()) {
    const seen = first.get(id);
    if (seen !== undefined) throw invalidArgument([{ field: field(i), description: `repeats ${field(seen)}: a batch deletes each model once` }]);
    if (id !== "") first.set(id, i);
  }
}

/** BatchCreateModels, BatchUpdateModels and BatchDeleteModels (AIP-233/234/235). */
export class ModelBatches {
  constructor(
    private readonly store: ModelStore,
    private readonly commits: ModelCommits,
    private readonly writes: ModelWrites,
  ) {}

  /**
   * Runs a batch, whose items need the scope of `change`: all or nothing in
   * one transaction (the error names the failing item), or with allowPartial
   * each item with its own result — still in one transaction, so that a
   * deadline leaves nothing written either way.
   */
  private async batch<T>(
    call: Call,
    change: ModelChange,
    items: readonly T[],
    field: (i: number) => string,
    allowPartial: boolean,
    plan: (item: T) => Promise<Step>,
  ): Promise<BatchOutcome> {
    const { scopes } = call.principal;
    if (items.length > 0) requireChangeScopes(call.principal, [change], `a batch that would ${change} models`);
    // All the writes share one transaction, where a second write of a model would be stale: name the repeat instead.
    const writers = new Map<string, number>();
    const planOnce = async (item: T, i: number): Promise<Step> => {
      const step = await plan(item);
      if (!isWrite(step)) return step;
      const first = writers.get(step.model.id);
      if (first !== undefined) throw invalidArgument([{ field: "id", description: `repeats ${field(first)}: a batch writes each model once` }]);
      writers.set(step.model.id, i);
      return step;
    };
    if (allowPartial) {
      const planned: Array<Step | ConnectError> = [];
      for (const [i, item] of items.entries()) {
        try {
          planned.push(await planOnce(item, i));
        } catch (e) {
          planned.push(ConnectError.from(e));
        }
      }
      const written = await this.commits.writeEach(planned.filter((p): p is Step => !(p instanceof ConnectError)));
      let s = 0;
      const results = planned.map((p) => {
        const r = p instanceof ConnectError ? p : written[s++]!;
        return r instanceof ConnectError ? r : toModelMessage(r, scopes);
      });
      return { results };
    }
    const steps: Step[] = [];
    for (const [i, item] of items.entries()) {
      try {
        steps.push(await planOnce(item, i));
      } catch (e) {
        throw indexedError(e, field(i));
      }
    }
    const writes = steps.filter(isWrite);
    const { outcomes, failedIndex } = await this.store.writeModels(writes);
    const models: ModelRecord[] = [];
    let w = 0;
    for (const [i, step] of steps.entries()) {
      if (!isWrite(step)) {
        models.push(step);
        continue;
      }
      const outcome = outcomes[w];
      if (failedIndex === w) {
        try {
          await this.commits.outcomeModel(step, outcome!);
        } catch (e) {
          throw indexedError(e, field(i));
        }
      }
      models.push(failedIndex === undefined ? await this.commits.outcomeModel(step, outcome!) : step.model);
      w++;
    }
    return { models: models.map((m) => toModelMessage(m, scopes)) };
  }

  private checkItem(call: Call, schema: DescMessage, item: Message & { workspaceId: string }): void {
    validateRequest(schema, item);
    if (item.workspaceId !== "" && item.workspaceId !== call.principal.workspaceId) {
      throw new ConnectError(`workspace "${item.workspaceId.slice(0, 128)}" is not the batch's workspace`, Code.PermissionDenied);
    }
  }

  batchCreate(call: Call, req: BatchCreateModelsRequest): Promise<BatchOutcome> {
    return this.batch(call, "create", req.requests, (i) => `requests[${i}]`, req.allowPartial, async (item) => {
      this.checkItem(call, CreateModelRequestSchema, item);
      return this.writes.planCreate(call, false, item, CreateModelRequestSchema);
    });
  }

  batchUpdate(call: Call, req: BatchUpdateModelsRequest): Promise<BatchOutcome> {
    return this.batch(call, "update", req.requests, (i) => `requests[${i}]`, req.allowPartial, async (item) => {
      this.checkItem(call, UpdateModelRequestSchema, item);
      return this.writes.planUpdate(call, call.principal.workspaceId, item, UpdateModelRequestSchema);
    });
  }

  batchDelete(call: Call, req: BatchDeleteModelsRequest): Promise<BatchOutcome> {
    checkDistinct(req.ids, (i) => `ids[${i}]`);
    const items = req.ids.map((id) => create(DeleteModelRequestSchema, { id }));
    return this.batch(call, "delete", items, (i) => `ids[${i}]`, req.allowPartial, async (item) => {
      validateRequest(DeleteModelRequestSchema, item);
      return this.writes.planDelete(call, call.principal.workspaceId, item, DeleteModelRequestSchema);
    });
  }
}

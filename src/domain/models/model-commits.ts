import type { DescMessage, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ulid } from "ulid";
import { RevisionAction } from "../../../gen/modelservice/v1/model_service_pb.js";
import type { IdempotencyRecord, ModelRecord, ModelStore, ModelWrite, WriteOutcome } from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";
import { copyRules } from "../catalog/catalog-copies.js";
import { requestDigest } from "./request-ids.js";
import { fieldChanges } from "./revision-diff.js";
import type { ModelReads } from "./model-reads.js";

export const systemScope = "system";

/** Who is calling, and the request id their call is logged under. */
export interface Call {
  principal: Principal;
  requestId: string;
  /** Epoch ms by which the caller wants the answer; a write not committed by then is not committed at all. */
  deadline?: number;
}

/** A planned write, or the model the request already is (a replay, a preview, no change). */
export type Step = ModelWrite | ModelRecord;

export function isWrite(step: Step): step is ModelWrite {
  return "revision" in step;
}

/**
 * How writes reach the store: one write with its audit record, its outcome
 * as the caller's answer, and request ids (AIP-155) that make retries safe.
 */
export class ModelCommits {
  constructor(
    private readonly store: ModelStore,
    private readonly reads: ModelReads,
    private readonly clock: () => number,
  ) {}

  /** The write of a new version of a model with its audit record. */
  modelWrite(call: Call, action: RevisionAction, before: ModelRecord | undefined, after: ModelRecord, idempotency?: IdempotencyRecord): ModelWrite {
    const now = this.clock();
    const model: ModelRecord = before ? { ...after, version: before.version + 1, updatedAt: now } : after;
    return {
      model,
      expectedVersion: before?.version,
      revision: {
        id: "rev_" + ulid(),
        modelId: model.id,
        action: `REVISION_ACTION_${RevisionAction[action]}`,
        profileId: call.principal.profileId,
        requestId: call.requestId,
        changes: fieldChanges(before, model),
        createdAt: now,
      },
      idempotency,
      copies: model.workspaceId === null ? copyRules : undefined,
      deadline: call.deadline,
    };
  }

  /** What a write's outcome means for the caller: the model, or the error. */
  async outcomeModel(write: ModelWrite, outcome: WriteOutcome): Promise<ModelRecord> {
    const model = write.model;
    switch (outcome.kind) {
      case "written":
        return outcome.model;
      case "stale":
        throw new ConnectError(`model "${model.id}" was changed by another request; read it again`, Code.Aborted);
      case "external-id-taken":
        throw new ConnectError(`another model of the workspace has externalId "${model.externalId}"`, Code.AlreadyExists);
      case "request-id-taken":
        return this.replay(outcome.record, write.idempotency!.requestHash, model.workspaceId);
    }
  }

  async commit(
    call: Call,
    action: RevisionAction,
    before: ModelRecord | undefined,
    after: ModelRecord,
    idempotency?: IdempotencyRecord,
  ): Promise<ModelRecord> {
    const write = this.modelWrite(call, action, before, after, idempotency);
    return this.outcomeModel(write, await this.store.writeModel(write));
  }

  /** The answer to a retried request id (AIP-155): the model it made, or AlreadyExists for another request. */
  async replay(first: IdempotencyRecord, digest: string, workspaceId: string | null): Promise<ModelRecord> {
    if (first.requestHash !== digest) {
      throw new ConnectError(`request id "${first.requestId}" was already used for another request`, Code.AlreadyExists);
    }
    return this.reads.load(workspaceId, first.modelId);
  }

  /**
   * Runs a write under its request id: a retry returns what the first call
   * made instead of writing again.
   */
  async once<T>(
    scope: string,
    schema: DescMessage,
    req: Message & { requestId: string },
    write: (idempotency: (modelId: string) => IdempotencyRecord | undefined) => Promise<T>,
  ): Promise<T | ModelRecord> {
    if (req.requestId === "") return write(() => undefined);
    const digest = requestDigest(schema.typeName, schema, req);
    const first = await this.store.findRequest(scope, req.requestId);
    if (first) return this.replay(first, digest, scope === systemScope ? null : scope);
    return write((modelId) => ({ scope, requestId: req.requestId, requestHash: digest, modelId, createdAt: this.clock() }));
  }

  /** Runs a planned step: writes it, or returns the model it already is. */
  async execute(step: Step): Promise<ModelRecord> {
    return isWrite(step) ? this.outcomeModel(step, await this.store.writeModel(step)) : step;
  }

  /**
   * Writes planned steps in one transaction, each standing alone: a step
   * whose write conflicts (stale, external id taken, request id reused) gets
   * its error and the others still commit. Past the call's deadline nothing
   * commits, so DeadlineExceeded means none of them was written.
   */
  async writeEach(steps: readonly Step[]): Promise<Array<ModelRecord | ConnectError>> {
    const writes = steps.filter(isWrite);
    const outcomes = writes.length === 0 ? [] : await this.store.writeEach(writes);
    let w = 0;
    const results: Array<ModelRecord | ConnectError> = [];
    for (const step of steps) {
      try {
        results.push(isWrite(step) ? await this.outcomeModel(step, outcomes[w++]!) : step);
      } catch (e) {
        results.push(ConnectError.from(e));
      }
    }
    return results;
  }
}

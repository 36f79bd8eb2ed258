import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ModelStatus, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  ListModelsResponseSchema,
  type ListModelsRequest,
  type ListModelsResponse,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import type { CatalogEntryRecord, CatalogSyncResult, CopyContext, ModelStore } from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";
import { invalidArgument } from "../validation/field-violations.js";
import { ListCursors } from "./list-cursor.js";
import { newModelId } from "./model-id.js";
import { storedStatus, toModelMessage } from "./model-message.js";
import { defaultPageSize, maxPageSize, parseLabelSelector, parseSortOrder } from "./model-rules.js";

/** The profile id recorded as creator of every platform catalog copy. */
export const systemProfileId = "profile_system";

function notFound(id: string): ConnectError {
  return new ConnectError(`model "${id}" not found`, Code.NotFound);
}

/**
 * The workspace catalog: what each workspace sees of the platform catalog and
 * its own models, and their status. Requests arrive authorized and validated.
 */
export class ModelRegistry {
  /** Workspace id -> owning account, for workspaces known to exist. */
  private readonly workspaceAccounts = new Map<string, string>();

  private constructor(
    private readonly store: ModelStore,
    private readonly cursors: ListCursors,
    private readonly clock: () => number,
  ) {}

  static async open(store: ModelStore, clock: () => number = Date.now): Promise<ModelRegistry> {
    const key = await store.secret("list-cursor-key", () => randomBytes(32).toString("base64"));
    return new ModelRegistry(store, new ListCursors(Buffer.from(key, "base64")), clock);
  }

  private copyContext(): CopyContext {
    return { newId: newModelId, profileId: systemProfileId, now: this.clock() };
  }

  /** Stores the catalog of this release; new entries reach every existing workspace. */
  syncCatalog(entries: CatalogEntryRecord[]): Promise<CatalogSyncResult> {
    return this.store.syncCatalog(entries, this.copyContext());
  }

  /**
   * Lets the caller into its workspace: creates it with the whole catalog on
   * first use, and refuses a token that names it under another account.
   */
  async admitWorkspace(principal: Principal): Promise<void> {
    let accountId = this.workspaceAccounts.get(principal.workspaceId);
    if (accountId === undefined) {
      const workspace = await this.store.ensureWorkspace(
        { id: principal.workspaceId, accountId: principal.accountId },
        this.copyContext(),
      );
      accountId = workspace.accountId;
      this.workspaceAccounts.set(workspace.id, accountId);
    }
    if (accountId !== principal.accountId) {
      throw new ConnectError(`workspace "${principal.workspaceId}" belongs to another account`, Code.PermissionDenied);
    }
  }

  async list(principal: Principal, req: ListModelsRequest): Promise<ListModelsResponse> {
    const descending = parseSortOrder(req.sortOrder) === "desc";
    const labels = parseLabelSelector(req.labels) as Array<[string, string]>;
    const queryTerms = req.query.toLowerCase().split(/\s+/).filter((t) => t !== "");
    const status = req.status === ModelStatus.UNSPECIFIED ? undefined : storedStatus(req.status);
    const filters = {
      workspaceId: principal.workspaceId,
      prefix: req.prefix,
      queryTerms,
      descending,
      status,
      bundleKey: req.bundleKey,
      labels: [...labels].sort(),
    };
    const digest = this.cursors.filterDigest(filters);
    let after;
    if (req.cursor !== "") {
      after = this.cursors.decode(req.cursor, digest);
      if (typeof after === "string") throw invalidArgument([{ field: "cursor", description: after }]);
    }
    const limit = Math.min(req.limit === 0 ? defaultPageSize : req.limit, maxPageSize);
    const { models, total } = await this.store.listModels({
      ...filters,
      prefix: req.prefix || undefined,
      bundleKey: req.bundleKey || undefined,
      limit: limit + 1,
      after,
    });
    const page = models.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor =
      models.length > limit && last ? this.cursors.encode({ createdAt: last.createdAt, id: last.id }, digest) : "";
    return create(ListModelsResponseSchema, {
      items: page.map(toModelMessage),
      pagination: { nextCursor, total },
    });
  }

  async get(principal: Principal, id: string): Promise<Model> {
    const found = await this.store.getModel(principal.workspaceId, id);
    if (!found) throw notFound(id);
    return toModelMessage(found);
  }

  async setStatus(principal: Principal, id: string, status: ModelStatus.ENABLED | ModelStatus.DISABLED): Promise<Model> {
    const updated = await this.store.setModelStatus(principal.workspaceId, id, storedStatus(status), this.clock());
    if (!updated) throw notFound(id);
    return toModelMessage(updated);
  }
}

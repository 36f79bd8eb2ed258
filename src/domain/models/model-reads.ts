import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ModelSchema, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  ListModelRevisionsResponseSchema,
  ListModelsRequestSchema,
  ListModelsResponseSchema,
  ListSystemModelsResponseSchema,
  RevisionAction,
  type ListModelRevisionsRequest,
  type ListModelRevisionsResponse,
  type ListModelsRequest,
  type ListModelsResponse,
  type ListSystemModelsRequest,
  type ListSystemModelsResponse,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ModelListQuery, ModelRecord, ModelStore } from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";
import { invalidArgument } from "../validation/field-violations.js";
import { ListCursors } from "./list-cursor.js";
import { retirementRevisions } from "../catalog/catalog-retirement.js";
import { ReadCache } from "./read-cache.js";
import { toModelMessage } from "./model-message.js";
import { filterQuery, listOrder, parseSortOrder } from "./list-query.js";
import { defaultPageSize, maxPageSize } from "./model-rules.js";
import type { OrderTerm } from "../../storage/model-filter.js";

export function notFound(id: string): ConnectError {
  return new ConnectError(`model "${id}" not found`, Code.NotFound);
}

const readerKeys = new WeakMap<Principal, string>();

/**
 * Who reads, as far as it shapes an answer: the workspace, and the scopes
 * (they decide canEdit). Built once per principal: the token verifier hands
 * out the same principal for every call of a token.
 */
function readerKey(principal: Principal): string {
  let key = readerKeys.get(principal);
  if (key === undefined) {
    key = `${principal.workspaceId}\0${[...principal.scopes].sort().join(" ")}`;
    readerKeys.set(principal, key);
  }
  return key;
}

/**
 * Heap bytes a cached answer takes per byte of its binary form: about six,
 * measured on ListModels pages, plus two for the encoded copy the wire keeps
 * beside a GetModel or ListModels answer (src/wire/encoded-answers.ts: its
 * gRPC frame, which its twin shares, and that frame's gzip and br forms), plus
 * five for its encoded JSON (about four times the binary size) and that
 * JSON's gzip and br forms (src/wire/encoded-json-answers.ts).
 */
const heapBytesPerSerializedByte = 13;

function pageSize(limit: number): number {
  return Math.min(limit === 0 ? defaultPageSize : limit, maxPageSize);
}

/** The read side: ListModels and GetModel through the read cache, revisions, system models. */
export class ModelReads {
  /** Answers of GetModel and ListModels, bounded by bytes (RegistryOptions.readCacheBytes). */
  private readonly cache: ReadCache;

  constructor(
    private readonly store: ModelStore,
    private readonly cursors: ListCursors,
    readCacheBytes: number,
  ) {
    this.cache = new ReadCache(readCacheBytes);
  }

  /** What the read cache holds now: its bytes and its answers (for /metrics). */
  readCacheUsage(): { bytes: number; entries: number } {
    return { bytes: this.cache.bytes, entries: this.cache.size };
  }

  private async page(query: Omit<ModelListQuery, "limit" | "after">, cursor: string, limit: number) {
    const digest = this.cursors.filterDigest(query);
    let after;
    if (cursor !== "") {
      after = this.cursors.decode(cursor, digest);
      if (typeof after === "string") throw invalidArgument([{ field: "cursor", description: after }]);
    }
    const size = pageSize(limit);
    const { models, positions, total, facets } = await this.store.listModels({ ...query, limit: size + 1, after });
    const page = models.slice(0, size);
    const last = positions[page.length - 1];
    const nextCursor = models.length > size && last ? this.cursors.encode(last, digest) : "";
    return { page, pagination: { nextCursor, total }, facets };
  }

  /** ListModels; answers are reused until the next commit (ReadCache). */
  async list(principal: Principal, req: ListModelsRequest): Promise<ListModelsResponse> {
    // Known fields only: a request's unknown fields never make a new entry.
    const known = toBinary(ListModelsRequestSchema, req, { writeUnknownFields: false });
    const key = `list\0${readerKey(principal)}\0${Buffer.from(known).toString("base64")}`;
    return this.cache.through(key, await this.store.changeStamp(), () => this.listUncached(principal, req), (page) =>
      toBinary(ListModelsResponseSchema, page).byteLength * heapBytesPerSerializedByte,
    );
  }

  private async listUncached(principal: Principal, req: ListModelsRequest): Promise<ListModelsResponse> {
    const sortOrder = parseSortOrder(req.sortOrder);
    const filters = filterQuery(principal.workspaceId, req);
    if (filters === undefined) return create(ListModelsResponseSchema, { pagination: { nextCursor: "", total: 0 } });
    const { page, pagination, facets } = await this.page(
      {
        ...filters,
        order: listOrder(req) as OrderTerm[],
        rankBySearch: req.sortOrder === "" && req.orderBy === "",
        descending: sortOrder === "desc",
        facets: req.includeFacets,
      },
      req.cursor,
      req.limit,
    );
    return create(ListModelsResponseSchema, {
      items: page.map((r) => toModelMessage(r, principal.scopes)),
      pagination,
      facets: Object.entries(facets ?? {}).map(([field, values]) => ({ field, values })),
    });
  }

  async load(workspaceId: string | null, id: string): Promise<ModelRecord> {
    const found = await this.store.getModel(workspaceId, id);
    if (!found) throw notFound(id);
    return found;
  }

  /** GetModel, the call on every LLM request's path; answers are reused until the next commit (ReadCache). */
  async get(principal: Principal, id: string): Promise<Model> {
    return this.cache.through(`get\0${readerKey(principal)}\0${id}`, await this.store.changeStamp(), async () =>
      toModelMessage(await this.load(principal.workspaceId, id), principal.scopes),
      (model) => toBinary(ModelSchema, model).byteLength * heapBytesPerSerializedByte,
    );
  }

  async listRevisions(principal: Principal, req: ListModelRevisionsRequest): Promise<ListModelRevisionsResponse> {
    const model = await this.load(principal.workspaceId, req.id);
    const digest = this.cursors.filterDigest({ revisionsOf: req.id });
    let before: string | undefined;
    if (req.cursor !== "") {
      const position = this.cursors.decode(req.cursor, digest);
      if (typeof position === "string") throw invalidArgument([{ field: "cursor", description: position }]);
      before = position.id;
    }
    const size = pageSize(req.limit);
    const own = await this.store.listRevisions(req.id, size + 1, before);
    // A catalog copy also shows its system model's retirements it did not record itself.
    const derived = await retirementRevisions(this.store, model);
    const total = own.total + derived.length;
    const revisions = [...own.revisions, ...derived.filter((r) => before === undefined || r.id < before)]
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, size + 1);
    const page = revisions.slice(0, size);
    const last = page[page.length - 1];
    return create(ListModelRevisionsResponseSchema, {
      items: page.map((r) => ({
        id: r.id,
        modelId: r.modelId,
        action: RevisionAction[r.action.replace(/^REVISION_ACTION_/, "") as keyof typeof RevisionAction],
        profileId: r.profileId,
        requestId: r.requestId,
        createTime: timestampFromMs(r.createdAt),
        changes: r.changes,
      })),
      pagination: {
        nextCursor: revisions.length > size && last ? this.cursors.encode({ values: [], id: last.id }, digest) : "",
        total,
      },
    });
  }

  async listSystem(principal: Principal, req: ListSystemModelsRequest): Promise<ListSystemModelsResponse> {
    const { page, pagination } = await this.page(
      {
        workspaceId: null,
        prefix: req.prefix || undefined,
        search: [],
        labels: [],
        showDeleted: req.showDeleted,
        showHidden: true,
        order: [],
        rankBySearch: false,
        descending: false,
        facets: false,
      },
      req.cursor,
      req.limit,
    );
    return create(ListSystemModelsResponseSchema, { items: page.map((r) => toModelMessage(r, principal.scopes)), pagination });
  }

  async getSystem(principal: Principal, id: string): Promise<Model> {
    return toModelMessage(await this.load(null, id), principal.scopes);
  }
}

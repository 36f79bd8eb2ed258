import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Model } from "../../gen/modelservice/v1/model_pb.js";
import { ModelService, WatchEventType, type WatchModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";

export type { Model } from "../../gen/modelservice/v1/model_pb.js";
export { WatchEventType } from "../../gen/modelservice/v1/model_service_pb.js";

export interface ModelResolverOptions {
  /** The service's URL, e.g. "https://models.internal:8080". */
  baseUrl: string;
  /** A bearer token with models:read; or getToken, asked on every (re)connect. */
  token?: string;
  getToken?: () => string | Promise<string>;
  /** "connect" (default) or "grpc-web", both over fetch; for gRPC over HTTP/2 in Node pass a connect-node `transport`. */
  protocol?: "connect" | "grpc-web";
  /** Any connect transport (overrides baseUrl and protocol). */
  transport?: Transport;
  /** AIP-160 filter, as in ListModels: the resolver holds the models matching it. */
  filter?: string;
  /** Reconnect backoff: first delay and cap in ms (default 250 and 30,000), each jittered. */
  backoff?: { initialMs?: number; maxMs?: number };
}

/** A change the resolver applied: its type and the model as it is now (as it last was, for DELETED and PURGED). */
export interface ModelChange {
  type: WatchEventType;
  model: Model;
}

export interface ResolverStatus {
  /** The snapshot was complete at least once. */
  synced: boolean;
  /** Not connected: the snapshot is the last one known and may be behind. */
  stale: boolean;
  /** Epoch ms of the last message from the service (0: none yet). */
  lastEventAt: number;
  resumeToken: string;
  /** Connections lost and attempted again. */
  reconnects: number;
}

export interface ModelResolver {
  /** Resolves once the first snapshot is complete; rejects when the service refuses the caller (token, scope, filter). */
  ready(): Promise<void>;
  /** Lookups: synchronous reads of the snapshot, no I/O. */
  get(id: string): Model | undefined;
  byExternalId(externalId: string): Model | undefined;
  /** The model with this catalog id ("anthropic/claude-sonnet-4.5"). */
  byCatalogId(catalogId: string): Model | undefined;
  list(predicate?: (model: Model) => boolean): Model[];
  on(event: "change", listener: (change: ModelChange) => void): () => void;
  status(): ResolverStatus;
  close(): void;
}

/** Refusals that no reconnect fixes by itself: ready() rejects with them. */
const refusals = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument]);

/** A map from a key (external id, catalog id) to the ids of the models that have it. */
class KeyIndex {
  private readonly ids = new Map<string, Set<string>>();
  add(key: string | undefined, id: string): void {
    if (key === undefined) return;
    let set = this.ids.get(key);
    if (!set) this.ids.set(key, (set = new Set()));
    set.add(id);
  }
  remove(key: string | undefined, id: string): void {
    if (key === undefined) return;
    const set = this.ids.get(key);
    set?.delete(id);
    if (set?.size === 0) this.ids.delete(key);
  }
  first(key: string): string | undefined {
    return this.ids.get(key)?.values().next().value;
  }
}

/** The models of a workspace, indexed by id, external id and catalog id. */
class Snapshot {
  readonly byId = new Map<string, Model>();
  readonly externalIds = new KeyIndex();
  readonly catalogIds = new KeyIndex();

  put(model: Model): void {
    const id = model.metadata!.id;
    this.remove(id);
    this.byId.set(id, model);
    this.externalIds.add(model.metadata!.externalId, id);
    this.catalogIds.add(model.metadata!.catalogId, id);
  }

  remove(id: string): Model | undefined {
    const old = this.byId.get(id);
    if (!old) return undefined;
    this.byId.delete(id);
    this.externalIds.remove(old.metadata!.externalId, id);
    this.catalogIds.remove(old.metadata!.catalogId, id);
    return old;
  }
}

/**
 * A live copy of the caller's models: lists them, then follows WatchModels,
 * so that every lookup is a map read in the caller's process. Reconnects with
 * jittered exponential backoff and resumes from its last token; relists when
 * the token is too old (OutOfRange). While disconnected it keeps serving the
 * last snapshot and reports itself stale.
 */
export function createModelResolver(options: ModelResolverOptions): ModelResolver {
  const transport =
    options.transport ??
    (options.protocol === "grpc-web" ? createGrpcWebTransport({ baseUrl: options.baseUrl }) : createConnectTransport({ baseUrl: options.baseUrl }));
  const client = createClient(ModelService, transport);
  const initialMs = options.backoff?.initialMs ?? 250;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const listeners = new Set<(change: ModelChange) => void>();
  const state: ResolverStatus = { synced: false, stale: true, lastEventAt: 0, resumeToken: "", reconnects: 0 };
  let snapshot = new Snapshot();
  let abort = new AbortController();
  let closed = false;
  let settle: { resolve: () => void; reject: (e: unknown) => void };
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  ready.catch(() => undefined);

  const emit = (type: WatchEventType, model: Model) => {
    for (const listener of listeners) listener({ type, model });
  };

  /** Swaps in a complete relisted snapshot, reporting what differs from the one served so far. */
  const replace = (next: Snapshot) => {
    const previous = snapshot;
    snapshot = next;
    for (const [id, model] of next.byId) {
      const old = previous.byId.get(id);
      if (!old) emit(WatchEventType.ADDED, model);
      else if (old.metadata!.etag !== model.metadata!.etag) emit(WatchEventType.MODIFIED, model);
    }
    for (const [id, model] of previous.byId) if (!next.byId.has(id)) emit(WatchEventType.DELETED, model);
  };

  const apply = (m: WatchModelsResponse, relisting: Snapshot | undefined) => {
    switch (m.type) {
      case WatchEventType.ADDED:
      case WatchEventType.MODIFIED:
      case WatchEventType.UNDELETED:
        if (relisting && m.resumeToken === "") return relisting.put(m.model!);
        snapshot.put(m.model!);
        return emit(m.type, m.model!);
      case WatchEventType.DELETED:
      case WatchEventType.PURGED:
        snapshot.remove(m.model!.metadata!.id);
        return emit(m.type, m.model!);
    }
  };

  const connect = async (): Promise<void> => {
    const token = options.getToken ? await options.getToken() : options.token;
    const headers = token ? { authorization: `Bearer ${token}` } : undefined;
    const resuming = state.resumeToken !== "";
    let relisting: Snapshot | undefined = resuming ? undefined : new Snapshot();
    const stream = client.watchModels(
      { filter: options.filter ?? "", resumeToken: state.resumeToken, sendInitialState: !resuming },
      { headers, signal: abort.signal },
    );
    for await (const m of stream) {
      state.lastEventAt = Date.now();
      apply(m, relisting);
      if (m.type === WatchEventType.SYNCED && relisting) {
        replace(relisting);
        relisting = undefined;
      }
      if (m.resumeToken !== "") state.resumeToken = m.resumeToken;
      if (!relisting) {
        state.stale = false;
        if (!state.synced) {
          state.synced = true;
          settle.resolve();
        }
      }
    }
  };

  const run = async () => {
    let attempt = 0;
    while (!closed) {
      const connectedBefore = state.lastEventAt;
      try {
        await connect();
      } catch (e) {
        if (closed) return;
        const error = ConnectError.from(e);
        if (error.code === Code.OutOfRange) state.resumeToken = "";
        if (refusals.has(error.code) && !state.synced) settle.reject(error);
      }
      if (closed) return;
      state.stale = true;
      state.reconnects++;
      // Jittered exponential backoff ("full jitter"); a connection that delivered messages starts the backoff over.
      if (state.lastEventAt !== connectedBefore) attempt = 0;
      const delay = Math.random() * Math.min(maxMs, initialMs * 2 ** attempt++);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        abort.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (!closed) abort = new AbortController();
    }
  };
  void run();

  return {
    ready: () => ready,
    get: (id) => snapshot.byId.get(id),
    byExternalId(externalId) {
      const id = snapshot.externalIds.first(externalId);
      return id === undefined ? undefined : snapshot.byId.get(id);
    },
    byCatalogId(catalogId) {
      const id = snapshot.catalogIds.first(catalogId);
      return id === undefined ? undefined : snapshot.byId.get(id);
    },
    list: (predicate) => [...snapshot.byId.values()].filter((m) => predicate?.(m) ?? true),
    on(_event, listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    status: () => ({ ...state }),
    close() {
      closed = true;
      state.stale = true;
      abort.abort();
      settle.reject(new ConnectError("the resolver was closed", Code.Canceled));
    },
  };
}

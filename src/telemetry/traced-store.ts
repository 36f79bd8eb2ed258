import { SpanKind, SpanStatusCode, type Attributes, type Tracer } from "@opentelemetry/api";
import type { DraftStore } from "../storage/draft-store.js";
import type { ModelStore } from "../storage/model-store.js";

type AsyncMethods<T> = { [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T];

/** Every call of each store interface: the compiler checks that none is missing. */
export const modelStoreCalls = {
  writeCatalog: true,
  getWorkspace: true,
  createWorkspace: true,
  listModels: true,
  getModel: true,
  findByExternalId: true,
  overriddenCopies: true,
  copyRows: true,
  writeModel: true,
  writeModels: true,
  writeEach: true,
  replaceSecret: true,
  insertModel: true,
  findRequest: true,
  listRevisions: true,
  sealedCredentials: true,
  resealCredentials: true,
  purgeDeleted: true,
  secret: true,
  changeStamp: true,
  close: true,
} as const satisfies Record<AsyncMethods<ModelStore>, true>;

export const draftStoreCalls = {
  insert: true,
  get: true,
  update: true,
  list: true,
  delete: true,
} as const satisfies Record<AsyncMethods<DraftStore>, true>;

/**
 * The store with a client span around each of its calls ("ModelStore.getModel"),
 * a child of the current span (the RPC's). Everything else of the store, such
 * as its database handle, shows through unchanged.
 */
export function tracedStore<T extends object>(store: T, name: string, calls: Record<AsyncMethods<T>, true>, tracer: Tracer, attributes: Attributes): T {
  const traced = Object.create(store) as T;
  for (const call of Object.keys(calls) as Array<AsyncMethods<T>>) {
    const method = store[call] as (...args: unknown[]) => Promise<unknown>;
    const spanName = `${name}.${String(call)}`;
    const options = { kind: SpanKind.CLIENT, attributes: { ...attributes, "db.operation.name": String(call) } };
    Object.defineProperty(traced, call, {
      value: async (...args: unknown[]) => {
        const span = tracer.startSpan(spanName, options);
        try {
          return await method.apply(store, args);
        } catch (e) {
          span.recordException(e as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
          throw e;
        } finally {
          span.end();
        }
      },
    });
  }
  return traced;
}

import { fromJson, toJsonString, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelOrigin, ModelSchema, ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import {
  ListModelRevisionsResponseSchema,
  ListModelsResponseSchema,
  RevisionAction,
  type ListModelRevisionsResponse,
  type ListModelsResponse,
  type ModelRevision,
} from "../gen/modelservice/v1/model_service_pb.js";
import { clientCache } from "./support/clients.js";
import { expectCode } from "./support/expect-code.js";
import { RestError, restCall, type RestAnswer, type StatusJson } from "./support/rest.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #5: custom models — CreateModel, UpdateModel, RotateModelCredentials,
 * DeleteModel, UndeleteModel, DuplicateModel and ListModelRevisions — over the
 * wire: Connect JSON, gRPC and REST (token-scoped and workspace-scoped paths).
 * Every response and revision seen is checked for the secrets sent.
 */

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.dispose());

// ---------------------------------------------------------------------------
// secrets: every secret sent is registered, every body received is recorded

const secrets: string[] = [];
/** Everything the service answered (REST bodies as sent, RPC messages as JSON). */
const received: string[] = [];
let secretCounter = 0;

function secret(label: string): string {
  const value = `sk-${label}-${++secretCounter}-${Math.random().toString(36).slice(2, 12)}SECRET`;
  secrets.push(value);
  return value;
}

function expectNoSecret(text: string): void {
  for (const s of secrets) expect(text.includes(s), `a secret leaked: ${text.slice(0, 200)}`).toBe(false);
  expect(text).not.toMatch(/"credentials"\s*:/);
}

// ---------------------------------------------------------------------------
// errors, the same for every surface

// ---------------------------------------------------------------------------
// the surfaces

interface WriteOptions {
  requestId?: string;
  validateOnly?: boolean;
  headers?: Record<string, string>;
}

/** The write API as one surface speaks it. Models go in as proto3 JSON and come back as messages. */
interface Surface {
  create(token: string, model: JsonObject, o?: WriteOptions): Promise<Model>;
  get(token: string, id: string): Promise<Model>;
  list(token: string, q?: { prefix?: string; showDeleted?: boolean }): Promise<ListModelsResponse>;
  /** `mask` in its JSON form: "metadata.name,spec.modelUrl" or "*". */
  update(token: string, id: string, model: JsonObject, mask?: string, o?: WriteOptions): Promise<Model>;
  rotate(token: string, id: string, credentials: JsonObject, o?: { etag?: string; requestId?: string }): Promise<Model>;
  disable(token: string, id: string): Promise<Model>;
  remove(token: string, id: string, o?: { etag?: string; requestId?: string }): Promise<Model>;
  undelete(token: string, id: string, o?: { requestId?: string }): Promise<Model>;
  duplicate(token: string, id: string, o?: { name?: string; copyCredentials?: boolean }): Promise<Model>;
  revisions(token: string, id: string, o?: { limit?: number; cursor?: string }): Promise<ListModelRevisionsResponse>;
}

const rpcClient = clientCache(() => service.url);

function seenModel(m: Model): Model {
  received.push(toJsonString(ModelSchema, m));
  return m;
}

function rpcSurface(protocol: string): Surface {
  const c = (token: string) => rpcClient(protocol, token);
  const mask = (m: string | undefined) => (m === undefined ? undefined : fromJson(FieldMaskSchema, m));
  return {
    create: async (token, model, o = {}) =>
      seenModel(
        await c(token).createModel(
          { model: fromJson(ModelSchema, model), requestId: o.requestId, validateOnly: o.validateOnly },
          { headers: o.headers },
        ),
      ),
    get: async (token, id) => seenModel(await c(token).getModel({ id })),
    list: async (token, q = {}) => {
      const res = await c(token).listModels({ prefix: q.prefix, showDeleted: q.showDeleted, limit: 1000 });
      received.push(toJsonString(ListModelsResponseSchema, res));
      return res;
    },
    update: async (token, id, model, m, o = {}) =>
      seenModel(
        await c(token).updateModel(
          { id, model: fromJson(ModelSchema, model), updateMask: mask(m), requestId: o.requestId, validateOnly: o.validateOnly },
          { headers: o.headers },
        ),
      ),
    rotate: async (token, id, credentials, o = {}) =>
      seenModel(await c(token).rotateModelCredentials({ id, credentials: credentials as never, etag: o.etag, requestId: o.requestId })),
    disable: async (token, id) => seenModel(await c(token).disableModel({ id })),
    remove: async (token, id, o = {}) => seenModel(await c(token).deleteModel({ id, etag: o.etag, requestId: o.requestId })),
    undelete: async (token, id, o = {}) => seenModel(await c(token).undeleteModel({ id, requestId: o.requestId })),
    duplicate: async (token, id, o = {}) => seenModel(await c(token).duplicateModel({ id, name: o.name, copyCredentials: o.copyCredentials })),
    revisions: async (token, id, o = {}) => {
      const res = await c(token).listModelRevisions({ id, limit: o.limit, cursor: o.cursor });
      received.push(toJsonString(ListModelRevisionsResponseSchema, res));
      return res;
    },
  };
}

/** One REST call; a non-2xx answer is thrown as a RestError. Every body is recorded. */
async function rest(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RestAnswer> {
  try {
    const answer = await restCall(service.url, token, method, path, body, headers);
    received.push(answer.text);
    return answer;
  } catch (e) {
    if (e instanceof RestError) received.push(e.text);
    throw e;
  }
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

/** REST over fetch; `base` is "/v1" (workspace from the token) or "/v1/workspaces/{workspaceId}". */
function restSurface(base: string): Surface {
  const model = async (p: Promise<RestAnswer>) => fromJson(ModelSchema, (await p).json);
  return {
    create: (token, body, o = {}) =>
      model(rest(token, "POST", `${base}/models${query({ requestId: o.requestId, validateOnly: o.validateOnly })}`, body, o.headers)),
    get: (token, id) => model(rest(token, "GET", `${base}/models/${id}`)),
    list: async (token, q = {}) =>
      fromJson(ListModelsResponseSchema, (await rest(token, "GET", `${base}/models${query({ prefix: q.prefix, showDeleted: q.showDeleted, limit: 1000 })}`)).json),
    update: (token, id, body, mask, o = {}) =>
      model(
        rest(
          token,
          "PATCH",
          `${base}/models/${id}${query({ updateMask: mask, requestId: o.requestId, validateOnly: o.validateOnly })}`,
          body,
          o.headers,
        ),
      ),
    rotate: (token, id, credentials, o = {}) =>
      model(rest(token, "POST", `${base}/models/${id}:rotateCredentials`, { credentials, etag: o.etag, requestId: o.requestId })),
    disable: (token, id) => model(rest(token, "POST", `${base}/models/${id}:disable`, {})),
    remove: (token, id, o = {}) => model(rest(token, "DELETE", `${base}/models/${id}${query({ etag: o.etag, requestId: o.requestId })}`)),
    undelete: (token, id, o = {}) => model(rest(token, "POST", `${base}/models/${id}:undelete`, { requestId: o.requestId })),
    duplicate: (token, id, o = {}) => model(rest(token, "POST", `${base}/models/${id}:duplicate`, { name: o.name, copyCredentials: o.copyCredentials })),
    revisions: async (token, id, o = {}) =>
      fromJson(ListModelRevisionsResponseSchema, (await rest(token, "GET", `${base}/models/${id}/revisions${query({ limit: o.limit, cursor: o.cursor })}`)).json),
  };
}

const surfaces: Array<[string, (workspaceId: string) => Surface]> = [
  ["connect+json", () => rpcSurface("connect+json")],
  ["grpc", () => rpcSurface("grpc")],
  ["REST /v1/models", () => restSurface("/v1")],
  ["REST /v1/workspaces/{workspaceId}/models", (ws) => restSurface(`/v1/workspaces/${ws}`)],
];

// ---------------------------------------------------------------------------
// helpers

const modelIdPattern = /^model_[0-9A-HJKMNP-TV-Z]{26}$/;
const day = 24 * 60 * 60 * 1000;
let nameCounter = 0;

function uniqueName(label: string): string {
  return `${label} ${++nameCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

function ms(t: Timestamp | undefined): number {
  expect(t, "timestamp").toBeDefined();
  return timestampMs(t!);
}

/** A custom model body with an https endpoint and a bearer token. */
function customBody(name: string, token: string, extra: { externalId?: string } = {}): JsonObject {
  return {
    metadata: { name, labels: { team: "ai", env: "dev" }, ...(extra.externalId ? { externalId: extra.externalId } : {}) },
    spec: {
      family: "acme-large-2",
      provider: "acme",
      description: "Our fine-tuned model",
      modelUrl: "https://llm.example.com/v1/chat",
      inputPricePerMillionTokens: "250",
      outputPricePerMillionTokens: "1000",
      maxInputTokens: 128000,
      maxOutputTokens: 8192,
      credentials: { token },
    },
  };
}

/** The first catalog (platform) model of the workspace. */
async function catalogModel(api: Surface, token: string): Promise<Model> {
  const list = await api.list(token);
  const system = list.items.find((m) => m.metadata?.origin === ModelOrigin.SYSTEM);
  expect(system, "the workspace has catalog models").toBeDefined();
  return system!;
}

/** Field paths compared in proto form whichever case the service writes them in. */
function protoPath(field: string): string {
  return field.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

function changeOf(revision: ModelRevision, field: string) {
  return revision.changes.find((c) => protoPath(c.field) === field);
}

function parsed(value: string | undefined): unknown {
  return value === undefined ? undefined : JSON.parse(value);
}

// ---------------------------------------------------------------------------

describe.each(surfaces)("round trips over %s", (surfaceName, makeSurface) => {
  const ws = `ws_cm_${surfaceName.replace(/[^a-z0-9]+/gi, "_").slice(0, 40)}`;
  let api: Surface;
  let token: string;

  beforeAll(async () => {
    api = makeSurface(ws);
    token = await service.token(ws);
  });

  it("creates a custom model and gets it back; the secret never comes back", async () => {
    const name = uniqueName("Custom");
    const key = secret("create");
    const created = await api.create(token, { ...customBody(name, key, { externalId: `ext-${nameCounter}` }) });
    const md = created.metadata!;
    const spec = created.spec!;
    expect(md.id).toMatch(modelIdPattern);
    expect(md.workspaceId).toBe(ws);
    expect(md.accountId).toBe("acct_test");
    expect(md.profileId).toBe("profile_test");
    expect(md.name).toBe(name);
    expect(md.externalId).toBe(`ext-${nameCounter}`);
    expect(md.labels).toEqual({ team: "ai", env: "dev" });
    expect(md.origin).toBe(ModelOrigin.WORKSPACE);
    expect(md.canEdit).toBe(true);
    expect(md.etag).not.toBe("");
    expect(md.catalogId).toBeUndefined();
    expect(md.deleteTime).toBeUndefined();
    expect(Math.abs(ms(md.createdAt) - Date.now())).toBeLessThan(60_000);
    expect(spec.family).toBe("acme-large-2");
    expect(spec.provider).toBe("acme");
    expect(spec.description).toBe("Our fine-tuned model");
    expect(spec.modelUrl).toBe("https://llm.example.com/v1/chat");
    expect(spec.inputPricePerMillionTokens).toBe(250n);
    expect(spec.outputPricePerMillionTokens).toBe(1000n);
    expect(spec.maxInputTokens).toBe(128000);
    expect(spec.maxOutputTokens).toBe(8192);
    expect(spec.status).toBe(ModelStatus.ENABLED);
    expect(spec.disabledReason).toBeUndefined();
    expect(spec.hasToken).toBe(true);
    expect(spec.hasClientKey).toBe(false);
    expect(spec.credentialFingerprint).toMatch(/^fp_/);
    expect(spec.credentialFingerprint).not.toContain(key);
    expect(spec.credentialsUpdatedAt).toBeDefined();
    expect(spec.credentials).toBeUndefined();

    const got = await api.get(token, md.id);
    expect(got).toEqual(created);
    const listed = await api.list(token, { prefix: name });
    expect(listed.items.map((m) => m.metadata?.id)).toEqual([md.id]);
    expect(listed.pagination?.total).toBe(1);
    expect(listed.items[0]!.spec?.credentials).toBeUndefined();
    for (const text of received) expectNoSecret(text);
  });

  it("updates the fields of the mask; the etag changes on every write and a stale one is Aborted", async () => {
    const created = await api.create(token, customBody(uniqueName("Upd"), secret("upd")));
    const id = created.metadata!.id;
    const renamed = uniqueName("Renamed");
    const updated = await api.update(
      token,
      id,
      { metadata: { name: renamed, labels: { tier: "gold" }, etag: created.metadata!.etag } },
      "metadata.name,metadata.labels",
    );
    expect(updated.metadata!.id).toBe(id);
    expect(updated.metadata!.name).toBe(renamed);
    expect(updated.metadata!.labels).toEqual({ tier: "gold" });
    expect(updated.spec!.description).toBe("Our fine-tuned model");
    expect(updated.spec!.hasToken).toBe(true);
    expect(updated.spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
    expect(updated.metadata!.etag).not.toBe(created.metadata!.etag);
    expect(ms(updated.metadata!.updatedAt)).toBeGreaterThanOrEqual(ms(created.metadata!.updatedAt));
    expect(await api.get(token, id)).toEqual(updated);

    // The etag read before the update is stale now.
    await expectCode(api.update(token, id, { metadata: { name: "Lost update", etag: created.metadata!.etag } }, "metadata.name"), Code.Aborted);
    await expectCode(api.rotate(token, id, { token: secret("stale-rotate") }, { etag: created.metadata!.etag }), Code.Aborted);
    await expectCode(api.remove(token, id, { etag: created.metadata!.etag }), Code.Aborted);
    const after = await api.get(token, id);
    expect(after.metadata!.name).toBe(renamed);
    expect(after.metadata!.etag).toBe(updated.metadata!.etag);
    expect(after.metadata!.deleteTime).toBeUndefined();
    expect(after.spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
  });

  it("RotateModelCredentials replaces the secret: a new fingerprint", async () => {
    const created = await api.create(token, customBody(uniqueName("Rot"), secret("rot-1")));
    const rotated = await api.rotate(
      token,
      created.metadata!.id,
      { clientKey: secret("rot-client"), secretKey: secret("rot-secret") },
      { etag: created.metadata!.etag },
    );
    expect(rotated.spec!.hasClientKey).toBe(true);
    expect(rotated.spec!.hasToken).toBe(false);
    expect(rotated.spec!.credentialFingerprint).toMatch(/^fp_/);
    expect(rotated.spec!.credentialFingerprint).not.toBe(created.spec!.credentialFingerprint);
    expect(ms(rotated.spec!.credentialsUpdatedAt)).toBeGreaterThanOrEqual(ms(created.spec!.credentialsUpdatedAt));
    expect(rotated.metadata!.etag).not.toBe(created.metadata!.etag);
    const again = await api.rotate(token, created.metadata!.id, { token: secret("rot-2") });
    expect(again.spec!.hasToken).toBe(true);
    expect(again.spec!.hasClientKey).toBe(false);
    expect(again.spec!.credentialFingerprint).not.toBe(rotated.spec!.credentialFingerprint);
    expect((await api.get(token, created.metadata!.id)).spec!.credentialFingerprint).toBe(again.spec!.credentialFingerprint);
  });

  it("deletes softly, hides the model from lists unless showDeleted, and undeletes it", async () => {
    const name = uniqueName("Del");
    const created = await api.create(token, customBody(name, secret("del")));
    const id = created.metadata!.id;
    const deleted = await api.remove(token, id);
    expect(deleted.metadata!.id).toBe(id);
    const deleteTime = ms(deleted.metadata!.deleteTime);
    expect(Math.abs(deleteTime - Date.now())).toBeLessThan(60_000);
    expect(Math.abs(ms(deleted.metadata!.purgeTime) - deleteTime - 30 * day)).toBeLessThan(5_000);
    expect(deleted.metadata!.etag).not.toBe(created.metadata!.etag);
    expect(deleted.spec!.disabledReason).toBeTruthy();

    const got = await api.get(token, id);
    expect(ms(got.metadata!.deleteTime)).toBe(deleteTime);
    expect(got.metadata!.purgeTime).toEqual(deleted.metadata!.purgeTime);
    expect((await api.list(token, { prefix: name })).items).toEqual([]);
    expect((await api.list(token, { prefix: name })).pagination?.total).toBe(0);
    const shown = await api.list(token, { prefix: name, showDeleted: true });
    expect(shown.items.map((m) => m.metadata?.id)).toEqual([id]);
    expect(shown.items[0]!.metadata!.deleteTime).toBeDefined();

    await expectCode(api.remove(token, id), Code.NotFound);

    const restored = await api.undelete(token, id);
    expect(restored.metadata!.deleteTime).toBeUndefined();
    expect(restored.metadata!.purgeTime).toBeUndefined();
    expect(restored.spec!.disabledReason).toBeUndefined();
    expect(restored.spec!.hasToken).toBe(true);
    expect(restored.spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
    expect(restored.metadata!.etag).not.toBe(deleted.metadata!.etag);
    expect((await api.list(token, { prefix: name })).items.map((m) => m.metadata?.id)).toEqual([id]);
    expect((await api.get(token, id)).metadata!.deleteTime).toBeUndefined();
  });

  it("duplicates: a new id, \"<name> (copy)\", same spec and labels, credentials only when asked", async () => {
    const name = uniqueName("Dup");
    const source = await api.create(token, customBody(name, secret("dup"), { externalId: `dup-ext-${nameCounter}` }));
    const copy = await api.duplicate(token, source.metadata!.id);
    expect(copy.metadata!.id).toMatch(modelIdPattern);
    expect(copy.metadata!.id).not.toBe(source.metadata!.id);
    expect(copy.metadata!.name).toBe(`${name} (copy)`);
    expect(copy.metadata!.labels).toEqual(source.metadata!.labels);
    expect(copy.metadata!.externalId).toBeUndefined();
    expect(copy.metadata!.origin).toBe(ModelOrigin.WORKSPACE);
    expect(copy.metadata!.canEdit).toBe(true);
    expect(copy.metadata!.workspaceId).toBe(ws);
    const { hasToken, credentialFingerprint, credentialsUpdatedAt, ...sourceSpec } = source.spec!;
    expect(hasToken).toBe(true);
    expect(credentialFingerprint).toBeDefined();
    expect(credentialsUpdatedAt).toBeDefined();
    expect({ ...copy.spec!, hasToken: true, credentialFingerprint, credentialsUpdatedAt }).toEqual(source.spec);
    expect(copy.spec!.hasToken).toBe(false);
    expect(copy.spec!.hasClientKey).toBe(false);
    expect(copy.spec!.credentialFingerprint).toBeUndefined();
    expect(sourceSpec.modelUrl).toBe(copy.spec!.modelUrl);

    const named = await api.duplicate(token, source.metadata!.id, { name: "Named copy", copyCredentials: true });
    expect(named.metadata!.name).toBe("Named copy");
    expect(named.metadata!.id).not.toBe(copy.metadata!.id);
    expect(named.spec!.hasToken).toBe(true);
    expect(named.spec!.credentialFingerprint).toBe(source.spec!.credentialFingerprint);
    // Both copies exist, and the source is unchanged.
    expect((await api.get(token, copy.metadata!.id)).metadata!.name).toBe(`${name} (copy)`);
    expect(await api.get(token, source.metadata!.id)).toEqual(source);
  });

  it("a retry with the same requestId returns the first model; the same id with another body is AlreadyExists", async () => {
    const name = uniqueName("Idem");
    const requestId = `req-${nameCounter}-${Math.random().toString(36).slice(2, 10)}`;
    const body = customBody(name, secret("idem"));
    const first = await api.create(token, body, { requestId });
    const retry = await api.create(token, body, { requestId });
    expect(retry.metadata!.id).toBe(first.metadata!.id);
    expect(retry).toEqual(first);
    const listed = await api.list(token, { prefix: name });
    expect(listed.items.map((m) => m.metadata?.id)).toEqual([first.metadata!.id]);

    const other = customBody(`${name} changed`, secret("idem-2"));
    await expectCode(api.create(token, other, { requestId }), Code.AlreadyExists);
    expect((await api.list(token, { prefix: name })).pagination?.total).toBe(1);
  });

  it("validateOnly checks the request and writes nothing", async () => {
    const before = (await api.list(token, { showDeleted: true })).pagination?.total;
    const name = uniqueName("Dry");
    const preview = await api.create(token, customBody(name, secret("dry")), { validateOnly: true });
    expect(preview.metadata!.name).toBe(name);
    expect(preview.spec!.hasToken).toBe(true);
    expect((await api.list(token, { showDeleted: true })).pagination?.total).toBe(before);
    expect((await api.list(token, { prefix: name, showDeleted: true })).items).toEqual([]);
    if (preview.metadata!.id !== "") await expectCode(api.get(token, preview.metadata!.id), Code.NotFound);
    await expectCode(
      api.create(token, { metadata: { name }, spec: { modelUrl: "http://example.com/v1" } }, { validateOnly: true }),
      Code.InvalidArgument,
      "model.spec.modelUrl",
    );
    expect((await api.list(token, { showDeleted: true })).pagination?.total).toBe(before);
  });

  it("externalId is unique in the workspace: AlreadyExists", async () => {
    const externalId = `unique-${nameCounter}-${Math.random().toString(36).slice(2, 8)}`;
    const first = await api.create(token, { metadata: { name: uniqueName("Ext"), externalId }, spec: { family: "f", provider: "p" } });
    expect(first.metadata!.externalId).toBe(externalId);
    const name = uniqueName("Ext clash");
    await expectCode(api.create(token, { metadata: { name, externalId }, spec: { family: "g", provider: "p" } }), Code.AlreadyExists);
    expect((await api.list(token, { prefix: name, showDeleted: true })).items).toEqual([]);
  });

  it("validateOnly also reports a taken externalId (AlreadyExists) and still writes nothing", async () => {
    const externalId = `dry-unique-${nameCounter}-${Math.random().toString(36).slice(2, 8)}`;
    await api.create(token, { metadata: { name: uniqueName("Ext dry"), externalId }, spec: { family: "f", provider: "p" } });
    const before = (await api.list(token, { showDeleted: true })).pagination?.total;
    await expectCode(
      api.create(token, { metadata: { name: uniqueName("Ext dry clash"), externalId }, spec: { family: "g", provider: "p" } }, { validateOnly: true }),
      Code.AlreadyExists,
    );
    expect((await api.list(token, { showDeleted: true })).pagination?.total).toBe(before);
  });

  it("a bad modelUrl or half a key pair is InvalidArgument naming the field", async () => {
    await expectCode(
      api.create(token, { metadata: { name: uniqueName("Bad") }, spec: { modelUrl: "http://example.com/v1", credentials: { token: secret("bad") } } }),
      Code.InvalidArgument,
      "model.spec.modelUrl",
    );
    await expectCode(
      api.create(token, { metadata: { name: uniqueName("Bad") }, spec: { modelUrl: "https://ok.example.com", credentials: { clientKey: secret("half") } } }),
      Code.InvalidArgument,
      "model.spec.credentials.secretKey",
    );
  });

  it("a catalog model cannot be deleted: FailedPrecondition", async () => {
    const catalog = await catalogModel(api, token);
    expect(catalog.metadata!.origin).toBe(ModelOrigin.SYSTEM);
    expect(catalog.metadata!.canEdit).toBe(false);
    await expectCode(api.remove(token, catalog.metadata!.id), Code.FailedPrecondition);
    expect((await api.get(token, catalog.metadata!.id)).metadata!.deleteTime).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------

describe("modelUrl and credentials rules", () => {
  const ws = "ws_cm_rules";
  const api = rpcSurface("connect+json");
  let token: string;
  beforeAll(async () => {
    token = await service.token(ws);
  });

  const body = (modelUrl: string, credentials?: JsonObject): JsonObject => ({
    metadata: { name: uniqueName("Rules") },
    spec: { family: "f", provider: "p", modelUrl, ...(credentials ? { credentials } : {}) },
  });

  it.each([
    ["http:// outside loopback", "http://llm.example.com/v1"],
    ["http:// on a private address", "http://10.0.0.5/v1"],
    ["file:", "file:///etc/passwd"],
    ["javascript:", "javascript:alert(1)"],
    ["data:", "data:text/plain,hello"],
    ["ftp:", "ftp://files.example.com/model"],
    ["user info", "https://user:pass@llm.example.com/v1"],
    ["user name only", "https://user@llm.example.com/v1"],
    ["not a URL", "not a url"],
    ["no host", "https://"],
    ["empty bedrock id", "bedrock://"],
    ["bedrock id with a slash", "bedrock://anthropic/claude"],
  ])("modelUrl %s (%s) → InvalidArgument model.spec.modelUrl", async (_what, url) => {
    const total = (await api.list(token, { showDeleted: true })).pagination?.total;
    await expectCode(api.create(token, body(url)), Code.InvalidArgument, "model.spec.modelUrl");
    expect((await api.list(token, { showDeleted: true })).pagination?.total).toBe(total);
  });

  it.each([
    ["https", "https://llm.example.com/v1/chat"],
    ["https with a port", "https://llm.example.com:8443/v1"],
    ["http on localhost", "http://localhost:11434/v1"],
    ["http on 127.0.0.1", "http://127.0.0.1:8000/v1"],
    ["http on [::1]", "http://[::1]:8000/v1"],
    ["bedrock", "bedrock://anthropic.claude-3-5-sonnet-20241022-v2:0"],
  ])("modelUrl %s (%s) is accepted", async (_what, url) => {
    const created = await api.create(token, body(url));
    expect(created.spec!.modelUrl).toBe(url);
  });

  it("a bad modelUrl on update is InvalidArgument and changes nothing", async () => {
    const created = await api.create(token, body("https://llm.example.com/v1"));
    await expectCode(
      api.update(token, created.metadata!.id, { spec: { modelUrl: "javascript:alert(1)" } }, "spec.modelUrl"),
      Code.InvalidArgument,
      "model.spec.modelUrl",
    );
    expect(await api.get(token, created.metadata!.id)).toEqual(created);
  });

  it("clientKey without secretKey, and secretKey without clientKey, are InvalidArgument", async () => {
    await expectCode(
      api.create(token, body("https://llm.example.com/v1", { clientKey: secret("ck") })),
      Code.InvalidArgument,
      "model.spec.credentials.secretKey",
    );
    await expectCode(
      api.create(token, body("https://llm.example.com/v1", { secretKey: secret("sk") })),
      Code.InvalidArgument,
      "model.spec.credentials.clientKey",
    );
  });

  it("clientKey and secretKey together: hasClientKey, no token", async () => {
    const created = await api.create(token, body("https://llm.example.com/v1", { clientKey: secret("ck2"), secretKey: secret("sk2") }));
    expect(created.spec!.hasClientKey).toBe(true);
    expect(created.spec!.hasToken).toBe(false);
    expect(created.spec!.credentialFingerprint).toMatch(/^fp_/);
  });

  it("a token and a key pair together set both", async () => {
    const created = await api.create(
      token,
      body("https://llm.example.com/v1", { token: secret("both-t"), clientKey: secret("both-ck"), secretKey: secret("both-sk") }),
    );
    expect(created.spec!.hasToken).toBe(true);
    expect(created.spec!.hasClientKey).toBe(true);
  });

  it("for bedrock:// the token is ignored (hasToken false)", async () => {
    const created = await api.create(token, body("bedrock://anthropic.claude-3-haiku-20240307-v1:0", { token: secret("bedrock") }));
    expect(created.spec!.hasToken).toBe(false);
    expect(created.spec!.hasClientKey).toBe(false);
    expect(created.spec!.credentialFingerprint).toBeUndefined();
    const withKeys = await api.create(
      token,
      body("bedrock://anthropic.claude-3-haiku-20240307-v1:0", { token: secret("bedrock-t"), clientKey: secret("bedrock-ck"), secretKey: secret("bedrock-sk") }),
    );
    expect(withKeys.spec!.hasToken).toBe(false);
    expect(withKeys.spec!.hasClientKey).toBe(true);
    const rotated = await api.rotate(token, created.metadata!.id, { token: secret("bedrock-rot") });
    expect(rotated.spec!.hasToken).toBe(false);
  });

  it("credentials need a modelUrl", async () => {
    await expectCode(
      api.create(token, { metadata: { name: uniqueName("No url") }, spec: { credentials: { token: secret("nourl") } } }),
      Code.InvalidArgument,
      "model.spec.modelUrl",
    );
  });

  it.each([
    ["an empty name", { metadata: { name: "" }, spec: { family: "f" } }, "model.metadata.name"],
    ["a blank name", { metadata: { name: "   " }, spec: { family: "f" } }, "model.metadata.name"],
    ["metadata without a name", { metadata: { labels: { a: "b" } }, spec: { family: "f" } }, "model.metadata.name"],
    ["no metadata at all", { spec: { family: "f" } }, "model.metadata"],
  ] as Array<[string, JsonObject, string]>)("metadata.name is required: %s is InvalidArgument and creates nothing", async (_what, body, field) => {
    const total = (await api.list(token, { showDeleted: true })).pagination?.total;
    await expectCode(api.create(token, body), Code.InvalidArgument, field);
    expect((await api.list(token, { showDeleted: true })).pagination?.total).toBe(total);
  });

  it("RotateModelCredentials refuses half a key pair and empty credentials", async () => {
    const created = await api.create(token, body("https://llm.example.com/v1", { token: secret("rot-rules") }));
    await expectCode(api.rotate(token, created.metadata!.id, { clientKey: secret("rot-ck") }), Code.InvalidArgument, "credentials.secretKey");
    await expectCode(api.rotate(token, created.metadata!.id, {}), Code.InvalidArgument, "credentials");
    expect((await api.get(token, created.metadata!.id)).spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
  });

  it("the REST surface answers bad input with 400 and google.rpc.BadRequest naming the field", async () => {
    const res = await fetch(`${service.url}/v1/models`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body("file:///etc/passwd")),
    });
    expect(res.status).toBe(400);
    const status = (await res.json()) as StatusJson;
    expect(status.code).toBe(Code.InvalidArgument);
    const badRequest = status.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.BadRequest");
    expect((badRequest?.fieldViolations as Array<{ field: string }> | undefined)?.map((v) => v.field)).toContain("model.spec.modelUrl");
  });
});

// ---------------------------------------------------------------------------

describe("update masks and write-only credentials", () => {
  const ws = "ws_cm_masks";
  const connect = rpcSurface("connect+json");
  const restApi = restSurface("/v1");
  let token: string;
  beforeAll(async () => {
    token = await service.token(ws);
  });

  describe.each([
    ["connect+json", connect],
    ["REST", restApi],
  ] as const)("over %s", (_name, api) => {
    it('"*" replaces every updatable field but leaves the credentials alone', async () => {
      const created = await api.create(token, customBody(uniqueName("Star"), secret("star")));
      const updated = await api.update(
        token,
        created.metadata!.id,
        { metadata: { name: "Star replaced" }, spec: { family: "acme-small", provider: "acme", modelUrl: "https://other.example.com/v2" } },
        "*",
      );
      expect(updated.metadata!.name).toBe("Star replaced");
      expect(updated.metadata!.labels).toEqual({});
      expect(updated.spec!.family).toBe("acme-small");
      expect(updated.spec!.modelUrl).toBe("https://other.example.com/v2");
      expect(updated.spec!.description).toBeUndefined();
      expect(updated.spec!.inputPricePerMillionTokens).toBeUndefined();
      expect(updated.spec!.maxInputTokens).toBeUndefined();
      expect(updated.spec!.hasToken).toBe(true);
      expect(updated.spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
      expect(updated.spec!.credentialsUpdatedAt).toEqual(created.spec!.credentialsUpdatedAt);
    });

    it("an unknown mask path is InvalidArgument", async () => {
      const created = await api.create(token, customBody(uniqueName("Unknown"), secret("unknown")));
      await expectCode(api.update(token, created.metadata!.id, { spec: { family: "x" } }, "spec.colour"), Code.InvalidArgument, "updateMask");
      await expectCode(api.update(token, created.metadata!.id, { spec: { family: "x" } }, "spec.family,nothing.here"), Code.InvalidArgument, "updateMask");
      expect(await api.get(token, created.metadata!.id)).toEqual(created);
    });

    it.each(["metadata.id", "metadata.createdAt", "metadata.workspaceId", "metadata.etag", "spec.hasToken", "spec.credentialFingerprint"])(
      "naming the output-only %s in the mask is InvalidArgument",
      async (path) => {
        const created = await api.create(token, customBody(uniqueName("Output only"), secret("oo")));
        await expectCode(
          api.update(token, created.metadata!.id, { metadata: { name: "Never" } }, `metadata.name,${path}`),
          Code.InvalidArgument,
          "updateMask",
        );
        expect(await api.get(token, created.metadata!.id)).toEqual(created);
      },
    );

    it("without a mask, the fields the body sets are written (labels replaced, output-only fields ignored)", async () => {
      const created = await api.create(token, customBody(uniqueName("No mask"), secret("nomask")));
      const updated = await api.update(token, created.metadata!.id, {
        metadata: { id: "model_01ARZ3NDEKTSV4RRFFQ69G5FAV", labels: { owner: "ml" }, createdAt: "2001-01-01T00:00:00Z" },
        spec: { description: "New description", hasToken: false },
      });
      expect(updated.metadata!.id).toBe(created.metadata!.id);
      expect(updated.metadata!.createdAt).toEqual(created.metadata!.createdAt);
      expect(updated.metadata!.name).toBe(created.metadata!.name);
      expect(updated.metadata!.labels).toEqual({ owner: "ml" });
      expect(updated.spec!.description).toBe("New description");
      expect(updated.spec!.family).toBe(created.spec!.family);
      expect(updated.spec!.modelUrl).toBe(created.spec!.modelUrl);
      expect(updated.spec!.hasToken).toBe(true);
      expect(updated.spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
    });

    it("credentials in the body without the mask naming spec.credentials are InvalidArgument", async () => {
      const created = await api.create(token, customBody(uniqueName("Creds"), secret("creds")));
      const id = created.metadata!.id;
      await expectCode(api.update(token, id, { spec: { credentials: { token: secret("sneaky-1") } } }), Code.InvalidArgument, "model.spec.credentials");
      await expectCode(
        api.update(token, id, { metadata: { name: "Sneaky" }, spec: { credentials: { token: secret("sneaky-2") } } }, "metadata.name"),
        Code.InvalidArgument,
        "model.spec.credentials",
      );
      expect(await api.get(token, id)).toEqual(created);
    });

    it("naming spec.credentials with new values changes the fingerprint; naming it without values clears them", async () => {
      const created = await api.create(token, customBody(uniqueName("New creds"), secret("newcreds")));
      const id = created.metadata!.id;
      const replaced = await api.update(token, id, { spec: { credentials: { token: secret("newcreds-2") } } }, "spec.credentials");
      expect(replaced.spec!.hasToken).toBe(true);
      expect(replaced.spec!.credentialFingerprint).toMatch(/^fp_/);
      expect(replaced.spec!.credentialFingerprint).not.toBe(created.spec!.credentialFingerprint);
      expect(replaced.metadata!.etag).not.toBe(created.metadata!.etag);
      const cleared = await api.update(token, id, { spec: {} }, "spec.credentials");
      expect(cleared.spec!.hasToken).toBe(false);
      expect(cleared.spec!.hasClientKey).toBe(false);
      expect(cleared.spec!.credentialFingerprint).toBeUndefined();
    });

    it("validateOnly on update previews and writes nothing", async () => {
      const created = await api.create(token, customBody(uniqueName("Dry upd"), secret("dryupd")));
      const preview = await api.update(token, created.metadata!.id, { metadata: { name: "Preview" } }, "metadata.name", { validateOnly: true });
      expect(preview.metadata!.name).toBe("Preview");
      expect(await api.get(token, created.metadata!.id)).toEqual(created);
    });

    it("an empty name is InvalidArgument", async () => {
      const created = await api.create(token, customBody(uniqueName("Empty name"), secret("emptyname")));
      await expectCode(api.update(token, created.metadata!.id, { metadata: { name: "" } }, "metadata.name"), Code.InvalidArgument, "model.metadata.name");
    });
  });

  it("read-modify-write over REST: GET, change the name, PATCH it all back with updateMask=* — the secret survives", async () => {
    const created = await restApi.create(token, customBody(uniqueName("RMW rest"), secret("rmw-rest")));
    const id = created.metadata!.id;
    const read = (await rest(token, "GET", `/v1/models/${id}`)).json as { metadata: Record<string, JsonValue>; spec: Record<string, JsonValue> };
    expect(read.spec.hasToken).toBe(true);
    expect(read.spec).not.toHaveProperty("credentials");
    read.metadata.name = "RMW renamed over REST";
    const res = await rest(token, "PATCH", `/v1/models/${id}?updateMask=*`, read);
    const updated = fromJson(ModelSchema, res.json);
    expect(updated.metadata!.name).toBe("RMW renamed over REST");
    expect(updated.spec!.hasToken).toBe(true);
    expect(updated.spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
    expect(updated.spec!.credentialsUpdatedAt).toEqual(created.spec!.credentialsUpdatedAt);
    expect(updated.spec!.description).toBe(created.spec!.description);
    expect(updated.spec!.modelUrl).toBe(created.spec!.modelUrl);
    expect(updated.metadata!.labels).toEqual(created.metadata!.labels);
    expect(updated.metadata!.etag).not.toBe(created.metadata!.etag);
    // Sending the same read back again is a stale write now.
    await expectCode(restApi.update(token, id, read as JsonObject, "*"), Code.Aborted);
  });

  it("read-modify-write over Connect: the model message sent back with updateMask * keeps the secret", async () => {
    const client = rpcClient("connect+json", token);
    const created = await connect.create(token, customBody(uniqueName("RMW connect"), secret("rmw-connect")));
    const read = await client.getModel({ id: created.metadata!.id });
    read.metadata!.name = "RMW renamed over Connect";
    const updated = await client.updateModel({ id: created.metadata!.id, model: read, updateMask: { paths: ["*"] } });
    expect(updated.metadata!.name).toBe("RMW renamed over Connect");
    expect(updated.spec!.hasToken).toBe(true);
    expect(updated.spec!.credentialFingerprint).toBe(created.spec!.credentialFingerprint);
    expect(updated.spec!.credentialsUpdatedAt).toEqual(created.spec!.credentialsUpdatedAt);
  });

  it("a disabled model says why; enabled again it does not", async () => {
    const created = await connect.create(token, customBody(uniqueName("Disabled"), secret("disabled")));
    const disabled = await connect.disable(token, created.metadata!.id);
    expect(disabled.spec!.status).toBe(ModelStatus.DISABLED);
    expect(disabled.spec!.disabledReason).toBeTruthy();
    const enabled = await connect.update(token, created.metadata!.id, { spec: { status: "MODEL_STATUS_ENABLED" } }, "spec.status");
    expect(enabled.spec!.status).toBe(ModelStatus.ENABLED);
    expect(enabled.spec!.disabledReason).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------

describe("catalog models versus workspace models", () => {
  const ws = "ws_cm_catalog";
  const connect = rpcSurface("connect+json");
  const restApi = restSurface("/v1");
  let token: string;
  let readOnly: string;
  let catalog: Model;
  beforeAll(async () => {
    token = await service.token(ws);
    readOnly = await service.token(ws, { scope: "models:read" });
    catalog = await catalogModel(connect, token);
  });

  it("a catalog copy says origin SYSTEM and canEdit false, even for a token with every scope", () => {
    expect(catalog.metadata!.origin).toBe(ModelOrigin.SYSTEM);
    expect(catalog.metadata!.canEdit).toBe(false);
    expect(catalog.metadata!.catalogId).toBeTruthy();
  });

  it("a created model says origin WORKSPACE; canEdit true with models:update, false without", async () => {
    const created = await connect.create(token, customBody(uniqueName("Mine"), secret("mine")));
    expect(created.metadata!.origin).toBe(ModelOrigin.WORKSPACE);
    expect(created.metadata!.canEdit).toBe(true);
    const asReader = await connect.get(readOnly, created.metadata!.id);
    expect(asReader.metadata!.canEdit).toBe(false);
    expect(asReader.metadata!.origin).toBe(ModelOrigin.WORKSPACE);
    const restAsReader = await restApi.get(readOnly, created.metadata!.id);
    expect(restAsReader.metadata!.canEdit).toBe(false);
    const listed = await connect.list(readOnly, { prefix: created.metadata!.name });
    expect(listed.items[0]!.metadata!.canEdit).toBe(false);
  });

  it("Delete of a catalog model is FailedPrecondition (REST 400, x-should-retry: false)", async () => {
    await expectCode(connect.remove(token, catalog.metadata!.id), Code.FailedPrecondition);
    await expectCode(restApi.remove(token, catalog.metadata!.id), Code.FailedPrecondition);
    expect((await connect.get(token, catalog.metadata!.id)).metadata!.deleteTime).toBeUndefined();
  });

  it("Update of a catalog model's spec.family is FailedPrecondition", async () => {
    await expectCode(connect.update(token, catalog.metadata!.id, { spec: { family: "hijacked" } }, "spec.family"), Code.FailedPrecondition);
    await expectCode(restApi.update(token, catalog.metadata!.id, { spec: { family: "hijacked" } }, "spec.family"), Code.FailedPrecondition);
    await expectCode(connect.rotate(token, catalog.metadata!.id, { token: secret("catalog") }), Code.FailedPrecondition);
    expect((await connect.get(token, catalog.metadata!.id)).spec!.family).toBe(catalog.spec!.family);
  });

  it("but a catalog model's labels and status can be updated", async () => {
    const id = catalog.metadata!.id;
    const labelled = await connect.update(token, id, { metadata: { labels: { team: "search" } } }, "metadata.labels");
    expect(labelled.metadata!.labels).toEqual({ team: "search" });
    expect(labelled.spec!.family).toBe(catalog.spec!.family);
    const disabled = await restApi.update(token, id, { spec: { status: "MODEL_STATUS_DISABLED" } }, "spec.status");
    expect(disabled.spec!.status).toBe(ModelStatus.DISABLED);
    expect(disabled.spec!.disabledReason).toBeTruthy();
    expect(disabled.metadata!.origin).toBe(ModelOrigin.SYSTEM);
    const enabled = await connect.update(token, id, { spec: { status: "MODEL_STATUS_ENABLED" } }, "spec.status");
    expect(enabled.spec!.status).toBe(ModelStatus.ENABLED);
    expect(enabled.spec!.disabledReason).toBeUndefined();
  });

  it("a duplicate of a catalog model is the workspace's own", async () => {
    const copy = await connect.duplicate(token, catalog.metadata!.id);
    expect(copy.metadata!.origin).toBe(ModelOrigin.WORKSPACE);
    expect(copy.metadata!.canEdit).toBe(true);
    expect(copy.metadata!.catalogId).toBeUndefined();
    expect(copy.metadata!.name).toBe(`${catalog.metadata!.name} (copy)`);
    expect(copy.spec!.family).toBe(catalog.spec!.family);
    const deleted = await connect.remove(token, copy.metadata!.id);
    expect(deleted.metadata!.deleteTime).toBeDefined();
  });
});

// ---------------------------------------------------------------------------

describe("scopes", () => {
  const ws = "ws_cm_scopes";
  const connect = rpcSurface("connect+json");
  const restApi = restSurface("/v1");
  const tokens: Record<string, string> = {};
  let model: Model;
  let deleted: Model;

  beforeAll(async () => {
    tokens.all = await service.token(ws);
    for (const scope of ["models:read", "models:create", "models:update", "models:delete"]) tokens[scope] = await service.token(ws, { scope });
    model = await connect.create(tokens.all!, customBody(uniqueName("Scoped"), secret("scoped")));
    deleted = await connect.create(tokens.all!, customBody(uniqueName("Scoped deleted"), secret("scoped-del")));
    deleted = await connect.remove(tokens.all!, deleted.metadata!.id);
  });

  type Rpc = (api: Surface, token: string) => Promise<unknown>;
  const rpcs: Array<[string, string, Rpc]> = [
    ["CreateModel", "models:create", (api, t) => api.create(t, customBody(uniqueName("Scope create"), secret("sc")))],
    ["UpdateModel", "models:update", (api, t) => api.update(t, model.metadata!.id, { metadata: { name: uniqueName("Scope upd") } }, "metadata.name")],
    ["RotateModelCredentials", "models:update", (api, t) => api.rotate(t, model.metadata!.id, { token: secret("sr") })],
    ["DeleteModel", "models:delete", (api, t) => api.remove(t, model.metadata!.id)],
    ["UndeleteModel", "models:delete", (api, t) => api.undelete(t, deleted.metadata!.id)],
    ["DuplicateModel", "models:create", (api, t) => api.duplicate(t, model.metadata!.id)],
    ["ListModelRevisions", "models:read", (api, t) => api.revisions(t, model.metadata!.id)],
  ];
  const denied = rpcs.flatMap(([name, needed, call]) =>
    ["models:read", "models:create", "models:update", "models:delete"].filter((s) => s !== needed).map((scope) => [name, scope, call] as const),
  );

  it.each(denied)("%s with only %s is PermissionDenied", async (_name, scope, call) => {
    const before = await connect.get(tokens.all!, model.metadata!.id);
    const total = (await connect.list(tokens.all!, { showDeleted: true })).pagination?.total;
    await expectCode(call(connect, tokens[scope]!), Code.PermissionDenied);
    await expectCode(call(rpcSurface("grpc"), tokens[scope]!), Code.PermissionDenied);
    await expectCode(call(restApi, tokens[scope]!), Code.PermissionDenied);
    expect(await connect.get(tokens.all!, model.metadata!.id)).toEqual(before);
    expect((await connect.list(tokens.all!, { showDeleted: true })).pagination?.total).toBe(total);
  });

  it("each scope alone is enough for its own methods", async () => {
    expect((await connect.revisions(tokens["models:read"]!, model.metadata!.id)).items.length).toBeGreaterThan(0);
    const created = await connect.create(tokens["models:create"]!, customBody(uniqueName("Create only"), secret("co")));
    expect(created.metadata!.canEdit).toBe(false);
    const copy = await connect.duplicate(tokens["models:create"]!, created.metadata!.id);
    expect(copy.metadata!.origin).toBe(ModelOrigin.WORKSPACE);
    const updated = await connect.update(tokens["models:update"]!, created.metadata!.id, { metadata: { name: uniqueName("Update only") } }, "metadata.name");
    expect(updated.metadata!.canEdit).toBe(true);
    const rotated = await connect.rotate(tokens["models:update"]!, created.metadata!.id, { token: secret("uo") });
    expect(rotated.spec!.credentialFingerprint).not.toBe(created.spec!.credentialFingerprint);
    const removed = await connect.remove(tokens["models:delete"]!, created.metadata!.id);
    expect(removed.metadata!.deleteTime).toBeDefined();
    const restored = await connect.undelete(tokens["models:delete"]!, created.metadata!.id);
    expect(restored.metadata!.deleteTime).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------

describe("workspaces are isolated", () => {
  const wsA = "ws_cm_tenant_a";
  const wsB = "ws_cm_tenant_b";
  let tokenA: string;
  let tokenB: string;
  let theirs: Model;
  let theirDeleted: Model;

  beforeAll(async () => {
    tokenA = await service.token(wsA);
    tokenB = await service.token(wsB);
    const b = rpcSurface("connect+json");
    theirs = await b.create(tokenB, customBody(uniqueName("Theirs"), secret("theirs"), { externalId: "shared-external-id" }));
    theirDeleted = await b.create(tokenB, customBody(uniqueName("Theirs deleted"), secret("theirs-del")));
    theirDeleted = await b.remove(tokenB, theirDeleted.metadata!.id);
  });

  describe.each(surfaces)("over %s", (_name, makeSurface) => {
    let api: Surface;
    beforeAll(() => {
      api = makeSurface(wsA);
    });

    it("workspace A gets NotFound for every method on workspace B's model, and B's model is unchanged", async () => {
      const id = theirs.metadata!.id;
      const totalA = (await api.list(tokenA, { showDeleted: true })).pagination?.total;
      await expectCode(api.get(tokenA, id), Code.NotFound);
      await expectCode(api.update(tokenA, id, { metadata: { name: "Hijacked" } }, "metadata.name"), Code.NotFound);
      await expectCode(api.update(tokenA, id, read(theirs), "*"), Code.NotFound);
      await expectCode(api.rotate(tokenA, id, { token: secret("hijack") }), Code.NotFound);
      await expectCode(api.disable(tokenA, id), Code.NotFound);
      await expectCode(api.remove(tokenA, id), Code.NotFound);
      await expectCode(api.undelete(tokenA, theirDeleted.metadata!.id), Code.NotFound);
      await expectCode(api.duplicate(tokenA, id, { copyCredentials: true }), Code.NotFound);
      await expectCode(api.revisions(tokenA, id), Code.NotFound);
      const listA = await api.list(tokenA, { showDeleted: true });
      expect(listA.pagination?.total).toBe(totalA);
      expect(listA.items.map((m) => m.metadata?.id)).not.toContain(id);

      const b = rpcSurface("connect+json");
      expect(await b.get(tokenB, id)).toEqual(theirs);
      expect((await b.get(tokenB, theirDeleted.metadata!.id)).metadata!.deleteTime).toBeDefined();
      const revisions = await b.revisions(tokenB, id);
      expect(revisions.items.map((r) => r.action)).toEqual([RevisionAction.CREATE]);
    });
  });

  it("an externalId is unique per workspace, not across workspaces", async () => {
    const mine = await rpcSurface("connect+json").create(tokenA, { metadata: { name: uniqueName("Mine"), externalId: "shared-external-id" }, spec: { family: "f" } });
    expect(mine.metadata!.externalId).toBe("shared-external-id");
    expect(mine.metadata!.workspaceId).toBe(wsA);
  });

  it("A naming B's workspace in the path is PermissionDenied (403)", async () => {
    await expectCode(restSurface(`/v1/workspaces/${wsB}`).get(tokenA, theirs.metadata!.id), Code.PermissionDenied);
    await expectCode(restSurface(`/v1/workspaces/${wsB}`).create(tokenA, { metadata: { name: "Planted" } }), Code.PermissionDenied);
    await expectCode(restSurface(`/v1/workspaces/${wsB}`).remove(tokenA, theirs.metadata!.id), Code.PermissionDenied);
    expect(await rpcSurface("connect+json").get(tokenB, theirs.metadata!.id)).toEqual(theirs);
  });

  function read(m: Model): JsonObject {
    return { metadata: { name: "Hijacked", etag: m.metadata!.etag }, spec: { family: "x" } };
  }
});

// ---------------------------------------------------------------------------

describe("revisions", () => {
  const ws = "ws_cm_revisions";
  let alice: string;
  let bob: string;
  let model: Model;
  const run = Math.random().toString(36).slice(2, 8);
  const requestIds = {
    create: `req-create-${run}`,
    update: `req-update-${run}`,
    rotate: `req-rotate-${run}`,
    disable: `req-disable-${run}`,
    remove: `req-delete-${run}`,
    undelete: `req-undelete-${run}`,
  };
  const firstSecret = secret("rev-first");
  const secondSecret = secret("rev-second");
  const states: Model[] = [];

  async function restCall(token: string, method: string, path: string, requestId: string, body?: unknown): Promise<Model> {
    const res = await rest(token, method, path, body, { "x-request-id": requestId });
    expect(res.headers.get("x-request-id")).toBe(requestId);
    const m = fromJson(ModelSchema, res.json);
    states.push(m);
    return m;
  }

  beforeAll(async () => {
    alice = await service.token(ws, { profileId: "profile_alice" });
    bob = await service.token(ws, { profileId: "profile_bob", scope: "models:read models:update models:delete" });
    model = await restCall(alice, "POST", "/v1/models", requestIds.create, customBody("Audited", firstSecret));
    const id = model.metadata!.id;
    await restCall(bob, "PATCH", `/v1/models/${id}?updateMask=metadata.name,spec.description`, requestIds.update, {
      metadata: { name: "Audited v2" },
      spec: { description: "Second description" },
    });
    await restCall(bob, "POST", `/v1/workspaces/${ws}/models/${id}:rotateCredentials`, requestIds.rotate, { credentials: { token: secondSecret } });
    await restCall(alice, "POST", `/v1/models/${id}:disable`, requestIds.disable, {});
    await restCall(bob, "DELETE", `/v1/models/${id}`, requestIds.remove);
    await restCall(alice, "POST", `/v1/models/${id}:undelete`, requestIds.undelete, {});
  });

  it("lists every mutation newest first: action, who, request id, when", async () => {
    const res = await rest(alice, "GET", `/v1/models/${model.metadata!.id}/revisions`);
    expectNoSecret(res.text);
    expect(res.text).not.toContain(firstSecret);
    expect(res.text).not.toContain(secondSecret);
    expect(res.text).toContain('"REVISION_ACTION_CREATE"');
    const list = fromJson(ListModelRevisionsResponseSchema, res.json);
    expect(list.pagination?.total).toBe(6);
    expect(list.items.map((r) => r.action)).toEqual([
      RevisionAction.UNDELETE,
      RevisionAction.DELETE,
      RevisionAction.SET_STATUS,
      RevisionAction.ROTATE_CREDENTIALS,
      RevisionAction.UPDATE,
      RevisionAction.CREATE,
    ]);
    expect(list.items.map((r) => r.profileId)).toEqual(["profile_alice", "profile_bob", "profile_alice", "profile_bob", "profile_bob", "profile_alice"]);
    expect(list.items.map((r) => r.requestId)).toEqual([
      requestIds.undelete,
      requestIds.remove,
      requestIds.disable,
      requestIds.rotate,
      requestIds.update,
      requestIds.create,
    ]);
    for (const r of list.items) {
      expect(r.id).toMatch(/^rev_/);
      expect(r.modelId).toBe(model.metadata!.id);
      expect(Math.abs(ms(r.createTime) - Date.now())).toBeLessThan(60_000);
    }
    const times = list.items.map((r) => ms(r.createTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(new Set(list.items.map((r) => r.id)).size).toBe(6);
  });

  it("records the changed fields with old and new values; secrets only as fingerprints", async () => {
    const [undelete, del, status, rotate, update, create] = (await rpcSurface("connect+json").revisions(alice, model.metadata!.id)).items;
    const [created, updated, rotated] = states;

    const name = changeOf(create!, "metadata.name");
    expect(name?.oldValue).toBeUndefined();
    expect(parsed(name?.newValue)).toBe("Audited");
    expect(parsed(changeOf(create!, "spec.model_url")?.newValue)).toBe("https://llm.example.com/v1/chat");
    expect(parsed(changeOf(create!, "spec.family")?.newValue)).toBe("acme-large-2");
    expect(parsed(changeOf(create!, "spec.credential_fingerprint")?.newValue)).toBe(created!.spec!.credentialFingerprint);

    expect(update!.changes.map((c) => protoPath(c.field)).sort()).toEqual(["metadata.name", "spec.description"]);
    expect(parsed(changeOf(update!, "metadata.name")?.oldValue)).toBe("Audited");
    expect(parsed(changeOf(update!, "metadata.name")?.newValue)).toBe("Audited v2");
    expect(parsed(changeOf(update!, "spec.description")?.oldValue)).toBe("Our fine-tuned model");
    expect(parsed(changeOf(update!, "spec.description")?.newValue)).toBe("Second description");

    const fp = changeOf(rotate!, "spec.credential_fingerprint");
    expect(parsed(fp?.oldValue)).toBe(updated!.spec!.credentialFingerprint);
    expect(parsed(fp?.newValue)).toBe(rotated!.spec!.credentialFingerprint);
    expect(fp?.oldValue).not.toBe(fp?.newValue);

    const st = changeOf(status!, "spec.status");
    expect(parsed(st?.oldValue)).toBe("MODEL_STATUS_ENABLED");
    expect(parsed(st?.newValue)).toBe("MODEL_STATUS_DISABLED");

    const dt = changeOf(del!, "metadata.delete_time");
    expect(dt?.oldValue).toBeUndefined();
    expect(dt?.newValue).toBeDefined();
    expect(changeOf(del!, "metadata.purge_time")?.newValue).toBeDefined();

    const ut = changeOf(undelete!, "metadata.delete_time");
    expect(ut?.oldValue).toBeDefined();
    expect(ut?.newValue).toBeUndefined();

    const all = JSON.stringify([undelete, del, status, rotate, update, create], (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    expect(all).not.toContain(firstSecret);
    expect(all).not.toContain(secondSecret);
  });

  it.each([
    ["REST", () => restSurface("/v1")],
    ["REST workspace path", () => restSurface(`/v1/workspaces/${ws}`)],
    ["connect+json", () => rpcSurface("connect+json")],
    ["grpc", () => rpcSurface("grpc")],
  ])("pages with limit 2 over %s walk every revision once", async (_name, makeApi) => {
    const api = makeApi();
    const all = (await api.revisions(alice, model.metadata!.id)).items.map((r) => r.id);
    const walked: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await api.revisions(alice, model.metadata!.id, { limit: 2, cursor });
      expect(page.items.length).toBeLessThanOrEqual(2);
      expect(page.pagination?.total).toBe(6);
      walked.push(...page.items.map((r) => r.id));
      cursor = page.pagination?.nextCursor || undefined;
      pages++;
      expect(pages).toBeLessThanOrEqual(4);
    } while (cursor);
    expect(pages).toBe(3);
    expect(walked).toEqual(all);
  });

  it("records the x-request-id of Connect and gRPC calls, and the generated one when none was sent", async () => {
    const client = rpcClient("connect+json", alice);
    const created = await client.createModel({ model: fromJson(ModelSchema, { metadata: { name: uniqueName("Req ids") }, spec: { family: "f" } }) }, {
      headers: { "x-request-id": `conn-create-${run}` },
    });
    const id = created.metadata!.id;
    await rpcClient("grpc", alice).updateModel(
      { id, model: { metadata: { name: "Via gRPC" } }, updateMask: { paths: ["metadata.name"] } },
      { headers: { "x-request-id": `grpc-update-${run}` } },
    );
    let echoed: string | null = null;
    await client.disableModel({ id }, { onHeader: (h) => (echoed = h.get("x-request-id")) });
    expect(echoed).toBeTruthy();
    const revisions = (await client.listModelRevisions({ id })).items;
    expect(revisions.map((r) => r.requestId)).toEqual([echoed, `grpc-update-${run}`, `conn-create-${run}`]);
  });

  it("ListModelRevisions of an unknown model is NotFound", async () => {
    await expectCode(rpcSurface("connect+json").revisions(alice, "model_01ARZ3NDEKTSV4RRFFQ69G5FAV"), Code.NotFound);
    await expectCode(restSurface("/v1").revisions(alice, "model_01ARZ3NDEKTSV4RRFFQ69G5FAV"), Code.NotFound);
  });
});

// ---------------------------------------------------------------------------

describe("request ids on the other writes (AIP-155)", () => {
  const ws = "ws_cm_retries";
  const api = rpcSurface("connect+json");
  let token: string;
  beforeAll(async () => {
    token = await service.token(ws);
  });

  it("concurrent creates with one requestId make one model", async () => {
    const name = uniqueName("Concurrent");
    const body = customBody(name, secret("concurrent"));
    const results = await Promise.all(Array.from({ length: 5 }, () => api.create(token, body, { requestId: `concurrent-${nameCounter}` })));
    expect(new Set(results.map((m) => m.metadata!.id)).size).toBe(1);
    expect((await api.list(token, { prefix: name })).pagination?.total).toBe(1);
  });

  it("a retried RotateModelCredentials returns the first result and rotates once", async () => {
    const created = await api.create(token, customBody(uniqueName("Rotate retry"), secret("rr")));
    const credentials = { token: secret("rr-new") };
    const first = await api.rotate(token, created.metadata!.id, credentials, { requestId: `rotate-retry-${nameCounter}` });
    const retry = await api.rotate(token, created.metadata!.id, credentials, { requestId: `rotate-retry-${nameCounter}` });
    expect(retry.spec!.credentialFingerprint).toBe(first.spec!.credentialFingerprint);
    expect(retry.metadata!.etag).toBe(first.metadata!.etag);
    expect((await api.revisions(token, created.metadata!.id)).items.map((r) => r.action)).toEqual([
      RevisionAction.ROTATE_CREDENTIALS,
      RevisionAction.CREATE,
    ]);
  });

  it("a retried UpdateModel (same requestId, same etag) returns the first result instead of Aborted", async () => {
    const created = await api.create(token, customBody(uniqueName("Update retry"), secret("ur")));
    const body = { metadata: { name: "Updated once", etag: created.metadata!.etag } };
    const requestId = `update-retry-${nameCounter}`;
    const first = await api.update(token, created.metadata!.id, body, "metadata.name", { requestId });
    const retry = await api.update(token, created.metadata!.id, body, "metadata.name", { requestId });
    expect(retry.metadata!.name).toBe("Updated once");
    expect(retry.metadata!.etag).toBe(first.metadata!.etag);
    expect((await api.revisions(token, created.metadata!.id)).items.map((r) => r.action)).toEqual([RevisionAction.UPDATE, RevisionAction.CREATE]);
  });

  it("a retried DeleteModel (same requestId) returns the deleted model instead of NotFound", async () => {
    const created = await api.create(token, customBody(uniqueName("Delete retry"), secret("dr")));
    const requestId = `delete-retry-${nameCounter}`;
    const first = await api.remove(token, created.metadata!.id, { requestId });
    const retry = await api.remove(token, created.metadata!.id, { requestId });
    expect(retry.metadata!.deleteTime).toEqual(first.metadata!.deleteTime);
    expect((await api.revisions(token, created.metadata!.id)).items.map((r) => r.action)).toEqual([RevisionAction.DELETE, RevisionAction.CREATE]);
  });
});

// ---------------------------------------------------------------------------

describe("secrets", () => {
  it("no response of this file carried a secret that was sent", () => {
    expect(secrets.length).toBeGreaterThan(20);
    expect(received.length).toBeGreaterThan(100);
    for (const text of received) expectNoSecret(text);
  });

  it("no log line carried a secret", () => {
    const logs = JSON.stringify(service.logs);
    for (const s of secrets) expect(logs.includes(s)).toBe(false);
  });
});

import { fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelSchema, type Model } from "../gen/modelservice/v1/model_pb.js";
import {
  ListModelDraftsResponseSchema,
  ModelDraftSchema,
  type ListModelDraftsResponse,
  type ModelDraft,
} from "../gen/modelservice/v1/model_service_pb.js";
import { clientCache } from "./support/clients.js";
import { expectCode } from "./support/expect-code.js";
import { RestError, restCall } from "./support/rest.js";
import { startTestService, type TestService } from "./support/service.js";
import { openTestDatabase, type TestDatabase } from "./support/test-database.js";

/**
 * Seed 002: model drafts — CreateModelDraft (empty or from a model),
 * UpdateModelDraft with expected_version, ListModelDrafts (the caller's own),
 * PublishModelDraft (through the rules of CreateModel / UpdateModel, guarded
 * by the base etag) and DeleteModelDraft — over Connect JSON and REST (both
 * path styles), and one round trip over gRPC.
 */

let service: TestService;
/** A second connection on the service's database, to stage what a crash would leave behind. */
let db: TestDatabase;

beforeAll(async () => {
  service = await startTestService();
  db = openTestDatabase(service.database);
});
afterAll(async () => {
  await db?.close();
  await service.dispose();
});

// ---------------------------------------------------------------------------
// errors, the same for every surface

/** The current draft an Aborted error carries: a Connect error detail, or a google.rpc.Status detail over REST. */
function currentDraftOf(error: ConnectError | RestError): ModelDraft | undefined {
  if (error instanceof RestError) {
    const detail = (error.body.details ?? []).find((d) => d["@type"] === "type.googleapis.com/modelservice.v1.ModelDraft");
    if (!detail) return undefined;
    const { "@type": _type, ...draft } = detail;
    return fromJson(ModelDraftSchema, draft as JsonObject);
  }
  return error.findDetails(ModelDraftSchema)[0];
}

// ---------------------------------------------------------------------------
// the surfaces

/** The draft API (and the few model calls the tests need) as one surface speaks it. Bodies go in as proto3 JSON. */
interface Surface {
  createDraft(token: string, body: { modelId?: string; model?: JsonObject }): Promise<ModelDraft>;
  /** `mask` in its JSON form: "metadata.name,spec.family". */
  updateDraft(token: string, id: string, body: { model?: JsonObject; mask?: string; expectedVersion: number }): Promise<ModelDraft>;
  listDrafts(token: string): Promise<ListModelDraftsResponse>;
  publish(token: string, id: string, expectedVersion?: number): Promise<Model>;
  deleteDraft(token: string, id: string): Promise<void>;
  createModel(token: string, model: JsonObject): Promise<Model>;
  getModel(token: string, id: string): Promise<Model>;
  updateModel(token: string, id: string, model: JsonObject, mask: string): Promise<Model>;
}

const client = clientCache(() => service.url);

function rpcSurface(protocol: string): Surface {
  const c = (token: string) => client(protocol, token);
  return {
    createDraft: (token, b) => c(token).createModelDraft({ modelId: b.modelId, model: b.model && fromJson(ModelSchema, b.model) }),
    updateDraft: (token, id, b) =>
      c(token).updateModelDraft({
        id,
        model: b.model && fromJson(ModelSchema, b.model),
        updateMask: b.mask === undefined ? undefined : fromJson(FieldMaskSchema, b.mask),
        expectedVersion: b.expectedVersion,
      }),
    listDrafts: (token) => c(token).listModelDrafts({}),
    publish: (token, id, expectedVersion) => c(token).publishModelDraft({ id, expectedVersion }),
    deleteDraft: async (token, id) => {
      await c(token).deleteModelDraft({ id });
    },
    createModel: (token, model) => c(token).createModel({ model: fromJson(ModelSchema, model) }),
    getModel: (token, id) => c(token).getModel({ id }),
    updateModel: (token, id, model, mask) => c(token).updateModel({ id, model: fromJson(ModelSchema, model), updateMask: fromJson(FieldMaskSchema, mask) }),
  };
}

/** One REST call; a non-2xx answer is thrown as a RestError. */
async function rest(token: string, method: string, path: string, body?: unknown): Promise<JsonValue> {
  return (await restCall(service.url, token, method, path, body)).json;
}

/** REST over fetch; `base` is "/v1" (workspace from the token) or "/v1/workspaces/{workspaceId}". */
function restSurface(base: string): Surface {
  const draft = async (p: Promise<JsonValue>) => fromJson(ModelDraftSchema, await p);
  const model = async (p: Promise<JsonValue>) => fromJson(ModelSchema, await p);
  return {
    createDraft: (token, b) => draft(rest(token, "POST", `${base}/drafts`, b)),
    updateDraft: (token, id, b) =>
      draft(rest(token, "PATCH", `${base}/drafts/${id}`, { model: b.model, updateMask: b.mask, expectedVersion: b.expectedVersion })),
    listDrafts: async (token) => fromJson(ListModelDraftsResponseSchema, await rest(token, "GET", `${base}/drafts`)),
    publish: (token, id, expectedVersion) => model(rest(token, "POST", `${base}/drafts/${id}:publish`, { expectedVersion })),
    deleteDraft: async (token, id) => {
      expect(await rest(token, "DELETE", `${base}/drafts/${id}`)).toEqual({});
    },
    createModel: (token, body) => model(rest(token, "POST", `${base}/models`, body)),
    getModel: (token, id) => model(rest(token, "GET", `${base}/models/${id}`)),
    updateModel: (token, id, body, mask) => model(rest(token, "PATCH", `${base}/models/${id}?updateMask=${encodeURIComponent(mask)}`, body)),
  };
}

const surfaces: Array<[string, (workspaceId: string) => Surface]> = [
  ["connect+json", () => rpcSurface("connect+json")],
  ["REST /v1/drafts", () => restSurface("/v1")],
  ["REST /v1/workspaces/{workspaceId}/drafts", (ws) => restSurface(`/v1/workspaces/${ws}`)],
];

// ---------------------------------------------------------------------------
// helpers

const draftIdPattern = /^draft_[0-9A-HJKMNP-TV-Z]{26}$/;
const modelIdPattern = /^model_[0-9A-HJKMNP-TV-Z]{26}$/;
let counter = 0;

function uniqueName(label: string): string {
  return `${label} ${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

function modelBody(name: string): JsonObject {
  return {
    metadata: { name, labels: { team: "ai" } },
    spec: {
      family: "acme-large-2",
      provider: "acme",
      description: "Our fine-tuned model",
      modelUrl: "https://llm.example.com/v1/chat",
      inputPricePerMillionTokens: "250",
      maxInputTokens: 128000,
    },
  };
}

const draftColumns = ["id", "workspace_id", "profile_id", "base_model_id", "base_etag", "model", "version", "created_at", "updated_at"];
type DraftRow = Record<string, unknown>;

// ---------------------------------------------------------------------------

describe.each(surfaces)("drafts over %s", (surfaceName, makeSurface) => {
  const ws = `ws_dr_${surfaceName.replace(/[^a-z0-9]+/gi, "_").slice(0, 40)}`;
  let api: Surface;
  /** Every scope, profile_test. */
  let token: string;
  /** Every scope, another profile of the same workspace. */
  let otherToken: string;

  beforeAll(async () => {
    api = makeSurface(ws);
    token = await service.token(ws);
    otherToken = await service.token(ws, { profileId: "profile_other" });
  });

  it("creates an empty draft: version 1, the caller as author, no base", async () => {
    const before = Date.now();
    const draft = await api.createDraft(token, {});
    expect(draft.id).toMatch(draftIdPattern);
    expect(draft.workspaceId).toBe(ws);
    expect(draft.profileId).toBe("profile_test");
    expect(draft.baseModelId).toBe("");
    expect(draft.baseEtag).toBe("");
    expect(draft.version).toBe(1);
    expect(draft.model?.metadata?.name ?? "").toBe("");
    expect(timestampMs(draft.createTime!)).toBeGreaterThanOrEqual(before - 1000);
    expect(draft.updateTime).toEqual(draft.createTime);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).toContain(draft.id);
  });

  it("creates a draft from an existing model, with initial content merged over it", async () => {
    const model = await api.createModel(token, modelBody(uniqueName("Base")));
    const plain = await api.createDraft(token, { modelId: model.metadata!.id });
    expect(plain.baseModelId).toBe(model.metadata!.id);
    expect(plain.baseEtag).toBe(model.metadata!.etag);
    expect(plain.model?.metadata?.name).toBe(model.metadata!.name);
    expect(plain.model?.spec).toEqual(model.spec);

    const renamed = uniqueName("Draft name");
    const merged = await api.createDraft(token, { modelId: model.metadata!.id, model: { metadata: { name: renamed }, spec: { family: "acme-xl" } } });
    expect(merged.baseModelId).toBe(model.metadata!.id);
    expect(merged.model?.metadata?.name).toBe(renamed);
    expect(merged.model?.metadata?.labels).toEqual({ team: "ai" });
    expect(merged.model?.spec?.family).toBe("acme-xl");
    expect(merged.model?.spec?.provider).toBe("acme");
    // The model itself is untouched until publish.
    expect((await api.getModel(token, model.metadata!.id)).metadata!.name).toBe(model.metadata!.name);

    await expectCode(api.createDraft(token, { modelId: "model_01J00000000000000000000000" }), Code.NotFound);
  });

  it("refuses credentials in a draft", async () => {
    await expectCode(
      api.createDraft(token, { model: { metadata: { name: "With secret" }, spec: { modelUrl: "https://llm.example.com/v1", credentials: { token: "sk-draft-secret" } } } }),
      Code.InvalidArgument,
      "model.spec.credentials",
    );
    const draft = await api.createDraft(token, {});
    await expectCode(
      api.updateDraft(token, draft.id, { model: { spec: { credentials: { token: "sk-draft-secret" } } }, mask: "spec.credentials", expectedVersion: 1 }),
      Code.InvalidArgument,
    );
    await expectCode(
      api.updateDraft(token, draft.id, { model: { metadata: { labels: { "bad key!": "x" } } }, expectedVersion: 1 }),
      Code.InvalidArgument,
      "model.metadata.labels",
    );
  });

  it("updates with the current version (version 2); a stale version is Aborted and carries the current draft", async () => {
    const draft = await api.createDraft(token, {});
    const name = uniqueName("Edited");
    const v2 = await api.updateDraft(token, draft.id, { model: { metadata: { name }, spec: { family: "fam-a", provider: "acme" } }, expectedVersion: 1 });
    expect(v2.version).toBe(2);
    expect(v2.model?.metadata?.name).toBe(name);
    expect(v2.model?.spec?.family).toBe("fam-a");
    expect(timestampMs(v2.updateTime!)).toBeGreaterThanOrEqual(timestampMs(v2.createTime!));

    // With a mask: only the named fields change; a named field the body leaves unset is cleared.
    const v3 = await api.updateDraft(token, draft.id, { model: { spec: { description: "d" } }, mask: "spec.description,spec.family", expectedVersion: 2 });
    expect(v3.version).toBe(3);
    expect(v3.model?.spec?.description).toBe("d");
    expect(v3.model?.spec?.family).toBeUndefined();
    expect(v3.model?.spec?.provider).toBe("acme");
    expect(v3.model?.metadata?.name).toBe(name);

    const error = await expectCode(
      api.updateDraft(token, draft.id, { model: { metadata: { name: "Lost edit" } }, expectedVersion: 2 }),
      Code.Aborted,
    );
    expect(error.message).toContain("version 3");
    const current = currentDraftOf(error);
    expect(current, "the error carries the current draft").toBeDefined();
    expect(current!.id).toBe(draft.id);
    expect(current!.version).toBe(3);
    expect(current!.model?.metadata?.name).toBe(name);
    // Nothing was written.
    const listed = (await api.listDrafts(token)).items.find((d) => d.id === draft.id);
    expect(listed?.version).toBe(3);
    expect(listed?.model?.metadata?.name).toBe(name);
  });

  it("lists the caller's own drafts, newest first; another profile cannot see, update, publish or delete them", async () => {
    const first = await api.createDraft(token, { model: { metadata: { name: uniqueName("First") } } });
    const second = await api.createDraft(token, { model: { metadata: { name: uniqueName("Second") } } });
    const ids = (await api.listDrafts(token)).items.map((d) => d.id);
    expect(ids.indexOf(second.id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
    for (const d of (await api.listDrafts(token)).items) expect(d.profileId).toBe("profile_test");

    const theirs = await api.createDraft(otherToken, {});
    const otherIds = (await api.listDrafts(otherToken)).items.map((d) => d.id);
    expect(otherIds).toEqual([theirs.id]);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).not.toContain(theirs.id);

    await expectCode(api.updateDraft(otherToken, first.id, { model: { metadata: { name: "Hijack" } }, expectedVersion: 1 }), Code.NotFound);
    await expectCode(api.publish(otherToken, first.id), Code.NotFound);
    await expectCode(api.deleteDraft(otherToken, first.id), Code.NotFound);
    const still = (await api.listDrafts(token)).items.find((d) => d.id === first.id);
    expect(still?.version).toBe(1);
    expect(still?.model?.metadata?.name).toBe(first.model?.metadata?.name);
  });

  it("publishes a new-model draft: creates the model, removes the draft; a retried publish returns the same model", async () => {
    const name = uniqueName("Published");
    const draft = await api.createDraft(token, { model: modelBody(name) });
    const [row] = await db.all<DraftRow>(`SELECT ${draftColumns.join(", ")} FROM model_drafts WHERE id = ?`, [draft.id]);
    const model = await api.publish(token, draft.id, 1);
    expect(model.metadata!.id).toMatch(modelIdPattern);
    expect(model.metadata!.name).toBe(name);
    expect(model.metadata!.profileId).toBe("profile_test");
    expect(model.metadata!.labels).toEqual({ team: "ai" });
    expect(model.spec!.family).toBe("acme-large-2");
    expect(model.spec!.inputPricePerMillionTokens).toBe(250n);
    expect(model.spec!.modelUrl).toBe("https://llm.example.com/v1/chat");
    expect(await api.getModel(token, model.metadata!.id)).toEqual(model);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).not.toContain(draft.id);
    await expectCode(api.publish(token, draft.id), Code.NotFound);

    // A publish that created the model but died before removing the draft: the retry returns that model.
    await db.run(`INSERT INTO model_drafts (${draftColumns.join(", ")}) VALUES (${draftColumns.map(() => "?").join(", ")})`, draftColumns.map((c) => row![c]));
    const retried = await api.publish(token, draft.id);
    expect(retried.metadata!.id).toBe(model.metadata!.id);
    expect(retried).toEqual(model);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).not.toContain(draft.id);
  });

  it("publishes a draft of an existing model: updates it", async () => {
    const model = await api.createModel(token, modelBody(uniqueName("To update")));
    const draft = await api.createDraft(token, { modelId: model.metadata!.id });
    const name = uniqueName("Updated by draft");
    const v2 = await api.updateDraft(token, draft.id, {
      model: { metadata: { name }, spec: { description: "edited in a draft", inputPricePerMillionTokens: "300" } },
      expectedVersion: 1,
    });
    // Changing the price in cents drops the dollar figure copied from the model, so the two never disagree.
    expect(v2.model?.spec?.inputPricePerMillionTokensUsd).toBeUndefined();
    const published = await api.publish(token, draft.id);
    expect(published.metadata!.id).toBe(model.metadata!.id);
    expect(published.metadata!.name).toBe(name);
    expect(published.metadata!.etag).not.toBe(model.metadata!.etag);
    expect(published.spec!.description).toBe("edited in a draft");
    expect(published.spec!.inputPricePerMillionTokens).toBe(300n);
    expect(published.spec!.inputPricePerMillionTokensUsd).toBe("3");
    expect(published.spec!.family).toBe("acme-large-2");
    expect(published.metadata!.labels).toEqual({ team: "ai" });
    expect(await api.getModel(token, model.metadata!.id)).toEqual(published);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).not.toContain(draft.id);
  });

  it("a model changed after its draft was made is not overwritten: publish is Aborted and the draft stays", async () => {
    const model = await api.createModel(token, modelBody(uniqueName("Guarded")));
    const draft = await api.createDraft(token, { modelId: model.metadata!.id, model: { metadata: { name: "Draft rename" } } });
    const renamed = uniqueName("Renamed meanwhile");
    const changed = await api.updateModel(token, model.metadata!.id, { metadata: { name: renamed } }, "metadata.name");
    await expectCode(api.publish(token, draft.id), Code.Aborted);
    const after = await api.getModel(token, model.metadata!.id);
    expect(after.metadata!.name).toBe(renamed);
    expect(after).toEqual(changed);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).toContain(draft.id);
  });

  it("publish with a stale expected_version is Aborted with the current draft", async () => {
    const draft = await api.createDraft(token, { model: { metadata: { name: uniqueName("Versioned") } } });
    await api.updateDraft(token, draft.id, { model: { spec: { family: "f" } }, expectedVersion: 1 });
    const error = await expectCode(api.publish(token, draft.id, 1), Code.Aborted);
    expect(currentDraftOf(error)?.version).toBe(2);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).toContain(draft.id);
  });

  it("publishing an invalid draft (empty name) is InvalidArgument naming the field, and keeps the draft", async () => {
    const draft = await api.createDraft(token, {});
    await api.updateDraft(token, draft.id, { model: { spec: { family: "nameless" } }, expectedVersion: 1 });
    await expectCode(api.publish(token, draft.id), Code.InvalidArgument, "model.metadata.name");
    const kept = (await api.listDrafts(token)).items.find((d) => d.id === draft.id);
    expect(kept?.version).toBe(2);

    // A draft of an existing model whose name was cleared.
    const model = await api.createModel(token, modelBody(uniqueName("Named")));
    const based = await api.createDraft(token, { modelId: model.metadata!.id });
    await api.updateDraft(token, based.id, { model: {}, mask: "metadata.name", expectedVersion: 1 });
    await expectCode(api.publish(token, based.id), Code.InvalidArgument, "model.metadata.name");
    expect((await api.getModel(token, model.metadata!.id)).metadata!.name).toBe(model.metadata!.name);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).toContain(based.id);
  });

  it("deletes a draft", async () => {
    const draft = await api.createDraft(token, {});
    await api.deleteDraft(token, draft.id);
    expect((await api.listDrafts(token)).items.map((d) => d.id)).not.toContain(draft.id);
    await expectCode(api.deleteDraft(token, draft.id), Code.NotFound);
    await expectCode(api.updateDraft(token, draft.id, { model: { metadata: { name: "x" } }, expectedVersion: 1 }), Code.NotFound);
  });

  it("checks scopes: a read-only token is PermissionDenied; publishing an update needs models:update", async () => {
    const readOnly = await service.token(ws, { scope: "models:read" });
    await expectCode(api.createDraft(readOnly, {}), Code.PermissionDenied);
    await expectCode(api.listDrafts(readOnly), Code.PermissionDenied);

    const model = await api.createModel(token, modelBody(uniqueName("Scoped")));
    const createOnly = await service.token(ws, { scope: "models:read models:create", profileId: "profile_creator" });
    const based = await api.createDraft(createOnly, { modelId: model.metadata!.id, model: { metadata: { name: "No update scope" } } });
    await expectCode(api.publish(createOnly, based.id), Code.PermissionDenied);
    expect((await api.getModel(token, model.metadata!.id)).metadata!.name).toBe(model.metadata!.name);
    expect((await api.listDrafts(createOnly)).items.map((d) => d.id)).toContain(based.id);

    // A new model needs models:create only.
    const fresh = await api.createDraft(createOnly, { model: modelBody(uniqueName("Created by creator")) });
    const created = await api.publish(createOnly, fresh.id);
    expect(created.metadata!.profileId).toBe("profile_creator");
  });
});

describe("drafts over gRPC", () => {
  it("a round trip: create, update, stale update with details, publish, delete", async () => {
    const ws = "ws_dr_grpc";
    const token = await service.token(ws);
    const api = rpcSurface("grpc");
    const draft = await api.createDraft(token, { model: { metadata: { name: uniqueName("Grpc") } } });
    expect(draft.id).toMatch(draftIdPattern);
    const v2 = await api.updateDraft(token, draft.id, { model: { spec: { family: "grpc-fam", provider: "acme" } }, mask: "spec.family,spec.provider", expectedVersion: 1 });
    expect(v2.version).toBe(2);
    const error = (await expectCode(api.updateDraft(token, draft.id, { model: { spec: { family: "late" } }, expectedVersion: 1 }), Code.Aborted)) as ConnectError;
    expect(error.findDetails(ModelDraftSchema)[0]?.version).toBe(2);
    const model = await api.publish(token, draft.id, 2);
    expect(model.spec!.family).toBe("grpc-fam");
    expect((await api.listDrafts(token)).items).toEqual([]);
    const other = await api.createDraft(token, {});
    await api.deleteDraft(token, other.id);
    expect((await api.listDrafts(token)).items).toEqual([]);
  });
});

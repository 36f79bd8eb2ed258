import { createClient, Code, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { bundledCatalog } from "./support/catalog.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { expectRpcCode } from "./support/expect-code.js";
import { jwtSecret, startTestService, type TestService } from "./support/service.js";

/**
 * Auth over the wire (API.md "Auth"): who may call, with which scope, on
 * which workspace, and what the logs keep of it.
 */

type Protocol = "connect+json" | "grpc";
const protocols: Protocol[] = ["connect+json", "grpc"];
const listMethod = "modelservice.v1.ModelService/ListModels";

let service: TestService;
/** Every token string sent to the service by this file, to check that no log line contains one. */
const usedTokens = new Set<string>();
/** The x-request-id of every ModelService call made through `client()`. */
const callIds: string[] = [];
let callSeq = 0;

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.dispose());

const secret = new TextEncoder().encode(jwtSecret);
const now = () => Math.floor(Date.now() / 1000);

async function token(workspaceId: string, o: Parameters<TestService["token"]>[1] = {}): Promise<string> {
  const t = await service.token(workspaceId, o);
  usedTokens.add(t);
  return t;
}

/** The service's claims, every one of which the test may drop or change. */
function claims(workspaceId: string, overrides: Record<string, unknown> = {}): JWTPayload {
  const payload: Record<string, unknown> = {
    sub: "profile_test",
    account_id: "acct_test",
    workspace_id: workspaceId,
    scope: "models:read models:update",
    iat: now(),
    exp: now() + 3600,
    ...overrides,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return payload as JWTPayload;
}

async function signed(payload: JWTPayload, key: Uint8Array = secret): Promise<string> {
  const t = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
  usedTokens.add(t);
  return t;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * A ModelService client that sends `token` (if any) and tags each call with a
 * fresh x-request-id, so that the log test can find exactly one line per call.
 */
function client(tok: string | undefined, protocol: Protocol = "connect+json"): ModelClient {
  const tag: Interceptor = (next) => (req) => {
    const id = `auth-test-${++callSeq}`;
    callIds.push(id);
    req.header.set("x-request-id", id);
    if (tok !== undefined) req.header.set("authorization", `Bearer ${tok}`);
    return next(req);
  };
  const baseUrl = service.url;
  const transport =
    protocol === "grpc"
      ? createGrpcTransport({ baseUrl, interceptors: [tag] })
      : createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: [tag] });
  return createClient(ModelService, transport);
}

/** Awaits a call that must fail and returns its ConnectError after checking the code. */
async function allModels(c: Client<typeof ModelService>): Promise<Model[]> {
  const res = await c.listModels({ limit: 1000 });
  expect(res.pagination?.nextCursor).toBe("");
  return res.items;
}

describe("authentication: no token or a bad one is Unauthenticated", () => {
  const badTokens: Array<[string, () => Promise<string | undefined>]> = [
    ["no Authorization header", async () => undefined],
    ["a garbage token", async () => "garbage"],
    ["three garbage segments", async () => "aaa.bbb.ccc"],
    ["a token signed with a different secret", () => signed(claims("ws_auth"), new TextEncoder().encode("another-secret-another-secret-0123456789"))],
    [
      "an alg:none token",
      async () => `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims("ws_auth"))}.`,
    ],
    [
      "an HS256 token with its signature removed",
      async () => (await signed(claims("ws_auth"))).split(".").slice(0, 2).join(".") + ".",
    ],
    ["an expired token", () => signed(claims("ws_auth", { iat: now() - 7200, exp: now() - 60 }))],
    ["a token whose nbf is in the future", () => signed(claims("ws_auth", { nbf: now() + 3600 }))],
    ["a token without workspace_id", () => signed(claims("ws_auth", { workspace_id: undefined }))],
    ["a token with an empty workspace_id", () => signed(claims("ws_auth", { workspace_id: "" }))],
    ["a token without account_id", () => signed(claims("ws_auth", { account_id: undefined }))],
    ["a token without sub", () => signed(claims("ws_auth", { sub: undefined }))],
  ];

  for (const protocol of protocols) {
    it.each(badTokens)(`${protocol}: %s`, async (_name, make) => {
      const tok = await make();
      if (tok !== undefined) usedTokens.add(tok);
      const c = client(tok, protocol);
      const err = await expectRpcCode(c.listModels({}), Code.Unauthenticated);
      // The refusal does not echo the token back.
      if (tok !== undefined && tok.length > 10) expect(err.rawMessage).not.toContain(tok);
      await expectRpcCode(c.getModel({ id: "model_01HXK0000000000000000000AB" }), Code.Unauthenticated);
      await expectRpcCode(c.disableModel({ id: "model_01HXK0000000000000000000AB" }), Code.Unauthenticated);
    });
  }

  it("a well-formed token built the same way is accepted (the cases above fail for their one defect)", async () => {
    const res = await client(await signed(claims("ws_auth"))).listModels({ limit: 1 });
    expect(res.items).toHaveLength(1);
  });

  it("an Authorization header that is not a Bearer token is Unauthenticated", async () => {
    const tok = await token("ws_auth");
    const transport = createConnectTransport({
      baseUrl: service.url,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Basic ${tok}`);
          return next(req);
        },
      ],
    });
    await expectRpcCode(createClient(ModelService, transport).listModels({}), Code.Unauthenticated);
  });

  it("gRPC via the harness client: no token and a garbage token are Unauthenticated", async () => {
    await expectRpcCode(modelClient(service.url, undefined, "grpc").listModels({}), Code.Unauthenticated);
    await expectRpcCode(modelClient(service.url, "garbage", "grpc").listModels({}), Code.Unauthenticated);
  });
});

describe("authorization: scopes", () => {
  it.each(protocols)("%s: a models:read token can List and Get but not change a status", async (protocol) => {
    const c = client(await token("ws_read", { scope: "models:read" }), protocol);
    const list = await c.listModels({ limit: 3 });
    expect(list.items).toHaveLength(3);
    const id = list.items[0]!.metadata!.id;
    expect((await c.getModel({ id })).metadata?.id).toBe(id);

    await expectRpcCode(c.setModelStatus({ id, status: ModelStatus.DISABLED }), Code.PermissionDenied);
    await expectRpcCode(c.enableModel({ id }), Code.PermissionDenied);
    await expectRpcCode(c.disableModel({ id }), Code.PermissionDenied);
    // Nothing changed.
    expect((await c.getModel({ id })).spec?.status).toBe(list.items[0]!.spec?.status);
  });

  it.each(protocols)("%s: a models:update-only token cannot List or Get", async (protocol) => {
    const reader = client(await token("ws_update_only", { scope: "models:read" }), protocol);
    const id = (await reader.listModels({ limit: 1 })).items[0]!.metadata!.id;

    const c = client(await token("ws_update_only", { scope: "models:update" }), protocol);
    await expectRpcCode(c.listModels({}), Code.PermissionDenied);
    await expectRpcCode(c.getModel({ id }), Code.PermissionDenied);
  });

  it("a token with no scope at all is PermissionDenied on every method", async () => {
    const c = client(await signed(claims("ws_no_scope", { scope: undefined })));
    const id = "model_01HXK0000000000000000000AB";
    await expectRpcCode(c.listModels({}), Code.PermissionDenied);
    await expectRpcCode(c.getModel({ id }), Code.PermissionDenied);
    await expectRpcCode(c.setModelStatus({ id, status: ModelStatus.ENABLED }), Code.PermissionDenied);
    await expectRpcCode(c.enableModel({ id }), Code.PermissionDenied);
    await expectRpcCode(c.disableModel({ id }), Code.PermissionDenied);
  });

  it("a scope is matched as a whole word, not as a substring", async () => {
    const c = client(await token("ws_scope_words", { scope: "models:reader models:updat" }));
    await expectRpcCode(c.listModels({}), Code.PermissionDenied);
  });
});

describe("workspaces", () => {
  let a: ModelClient;
  let b: ModelClient;

  beforeAll(async () => {
    a = client(await token("ws_a", { accountId: "acct_a" }));
    b = client(await token("ws_b", { accountId: "acct_b" }));
  });

  it.each(protocols)("%s: an explicit workspaceId that is not the token's is PermissionDenied", async (protocol) => {
    const c = client(await token("ws_a", { accountId: "acct_a" }), protocol);
    const id = (await c.listModels({ limit: 1 })).items[0]!.metadata!.id;
    await expectRpcCode(c.listModels({ workspaceId: "ws_b" }), Code.PermissionDenied);
    await expectRpcCode(c.getModel({ workspaceId: "ws_b", id }), Code.PermissionDenied);
    await expectRpcCode(c.setModelStatus({ workspaceId: "ws_b", id, status: ModelStatus.DISABLED }), Code.PermissionDenied);
    await expectRpcCode(c.enableModel({ workspaceId: "ws_b", id }), Code.PermissionDenied);
    await expectRpcCode(c.disableModel({ workspaceId: "ws_b", id }), Code.PermissionDenied);
    // Its own workspace, named explicitly, is fine.
    expect((await c.listModels({ workspaceId: "ws_a", limit: 1 })).items).toHaveLength(1);
  });

  it.each(protocols)("%s: a model id of another workspace is NotFound and reveals nothing of it", async (protocol) => {
    const c = client(await token("ws_a", { accountId: "acct_a" }), protocol);
    // A distinctive name: a short one ("ada") occurs inside any text.
    const theirs = (await allModels(b)).find((m) => m.metadata!.name.length >= 10);
    const id = theirs!.metadata!.id;
    const before = (await b.getModel({ id })).spec?.status;

    // Called one at a time: a rejection is always awaited as it happens, never left unhandled meanwhile.
    const calls: Array<() => Promise<unknown>> = [
      () => c.getModel({ id }),
      () => c.enableModel({ id }),
      () => c.disableModel({ id }),
      () => c.setModelStatus({ id, status: before === ModelStatus.ENABLED ? ModelStatus.DISABLED : ModelStatus.ENABLED }),
    ];
    for (const call of calls) {
      const err = await expectRpcCode(call(), Code.NotFound);
      const told = JSON.stringify({ message: err.rawMessage, details: err.details, metadata: [...err.metadata] });
      expect(told).not.toContain(theirs!.metadata!.name);
      expect(told).not.toContain("ws_b");
      expect(told).not.toContain("acct_b");
      if (theirs!.metadata!.catalogId) expect(told).not.toContain(theirs!.metadata!.catalogId);
    }
    // And B's model was not touched.
    expect((await b.getModel({ id })).spec?.status).toBe(before);
  });

  it("two workspaces each hold the whole catalog under disjoint ids", async () => {
    const catalogSize = bundledCatalog().length;
    const [listA, listB] = await Promise.all([a.listModels({ limit: 1000 }), b.listModels({ limit: 1000 })]);
    expect(listA.pagination?.total).toBe(catalogSize);
    expect(listB.pagination?.total).toBe(catalogSize);
    expect(listA.items).toHaveLength(catalogSize);
    expect(listB.items).toHaveLength(catalogSize);

    const idsA = new Set(listA.items.map((m) => m.metadata!.id));
    const idsB = new Set(listB.items.map((m) => m.metadata!.id));
    expect(idsA.size).toBe(catalogSize);
    expect(idsB.size).toBe(catalogSize);
    expect([...idsA].filter((id) => idsB.has(id))).toEqual([]);
    expect(listA.items.every((m) => m.metadata?.workspaceId === "ws_a" && m.metadata?.accountId === "acct_a")).toBe(true);
    expect(listB.items.every((m) => m.metadata?.workspaceId === "ws_b" && m.metadata?.accountId === "acct_b")).toBe(true);
    // Same catalog entries on both sides.
    const catalogIds = (items: Model[]) => items.map((m) => m.metadata?.catalogId ?? "").sort();
    expect(catalogIds(listA.items)).toEqual(catalogIds(listB.items));
  });

  it("disabling a model in A does not change B", async () => {
    const statuses = async (c: ModelClient) =>
      new Map((await allModels(c)).map((m) => [m.metadata!.catalogId ?? m.metadata!.id, m.spec?.status]));
    const bBefore = await statuses(b);

    const target = (await allModels(a)).find((m) => m.spec?.status === ModelStatus.ENABLED)!;
    expect(target).toBeDefined();
    const disabled = await a.disableModel({ id: target.metadata!.id });
    expect(disabled.spec?.status).toBe(ModelStatus.DISABLED);
    expect((await a.getModel({ id: target.metadata!.id })).spec?.status).toBe(ModelStatus.DISABLED);

    const bAfter = await statuses(b);
    expect(bAfter).toEqual(bBefore);
    expect(bAfter.get(target.metadata!.catalogId!)).toBe(ModelStatus.ENABLED);
    const disabledInB = await b.listModels({ status: ModelStatus.DISABLED, limit: 1000 });
    expect(disabledInB.items.map((m) => m.metadata?.catalogId)).not.toContain(target.metadata!.catalogId);

    await a.enableModel({ id: target.metadata!.id });
  });

  it.each(protocols)("%s: a workspace belongs to the account it was first used with", async (protocol) => {
    const ws = `ws_owned_${protocol.replace(/\W/g, "_")}`;
    const x = client(await token(ws, { accountId: "acct_x" }), protocol);
    const first = await x.listModels({ limit: 1 });
    const id = first.items[0]!.metadata!.id;
    expect(first.items[0]!.metadata?.accountId).toBe("acct_x");

    const y = client(await token(ws, { accountId: "acct_y" }), protocol);
    await expectRpcCode(y.listModels({}), Code.PermissionDenied);
    await expectRpcCode(y.getModel({ id }), Code.PermissionDenied);
    await expectRpcCode(y.disableModel({ id }), Code.PermissionDenied);

    // The owner still gets in, and nothing changed.
    expect((await x.getModel({ id })).spec?.status).toBe(first.items[0]!.spec?.status);
  });
});

describe("health and reflection need no token", () => {
  it("GET /healthz is 200", async () => {
    const res = await fetch(`${service.url}/healthz`);
    expect(res.status).toBe(200);
  });

  it("a Connect JSON Health/Check without a token is SERVING", async () => {
    const res = await fetch(`${service.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
  });

  it("gRPC server reflection without a token lists ModelService", async () => {
    const reflection = createClient(ServerReflection, createGrpcTransport({ baseUrl: service.url }));
    async function* requests() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    }
    const names: string[] = [];
    for await (const res of reflection.serverReflectionInfo(requests())) {
      expect(res.messageResponse.case).toBe("listServicesResponse");
      if (res.messageResponse.case === "listServicesResponse") names.push(...res.messageResponse.value.service.map((s) => s.name));
    }
    expect(names).toContain("modelservice.v1.ModelService");
  });
});

describe("x-request-id", () => {
  it("is echoed in the response and logged with the call", async () => {
    const tok = await token("ws_reqid");
    const res = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tok}`, "x-request-id": "abc-123" },
      body: JSON.stringify({ limit: 1 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("abc-123");
    const lines = service.logs.filter((l) => l.requestId === "abc-123");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: listMethod, code: "ok", requestId: "abc-123" });
    expect(typeof lines[0]!.durationMs).toBe("number");
  });

  it("is echoed on an error too", async () => {
    const res = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "abc-456" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toBe("abc-456");
    expect(service.logs.filter((l) => l.requestId === "abc-456")).toMatchObject([{ method: listMethod, code: "unauthenticated" }]);
  });

  it.each([["spaces and braces", "a b{}"], ["too long", "x".repeat(200)]])(
    "a request id with %s is replaced by a generated one",
    async (_name, given) => {
      const tok = await token("ws_reqid");
      const res = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${tok}`, "x-request-id": given },
        body: "{}",
      });
      expect(res.status).toBe(200);
      const echoed = res.headers.get("x-request-id");
      expect(echoed).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      expect(echoed).not.toBe(given);
      expect(service.logs.filter((l) => l.requestId === echoed)).toHaveLength(1);
    },
  );
});

// Runs last: checks the log of every call made above.
describe("logs", () => {
  it("never contain a token", () => {
    expect(usedTokens.size).toBeGreaterThan(10);
    const text = JSON.stringify(service.logs);
    for (const t of usedTokens) {
      expect(text).not.toContain(t);
      const signature = t.split(".")[2];
      if (signature && signature.length >= 16) expect(text).not.toContain(signature);
    }
  });

  it("hold exactly one line per ModelService call, with method, code, durationMs and requestId", () => {
    expect(callIds.length).toBeGreaterThan(50);
    for (const id of callIds) {
      const lines = service.logs.filter((l) => l.requestId === id);
      expect(lines, `log lines for ${id}`).toHaveLength(1);
      const line = lines[0]!;
      expect(line.method).toMatch(/^modelservice\.v1\.ModelService\/(ListModels|GetModel|SetModelStatus|EnableModel|DisableModel)$/);
      expect(line.code).toMatch(/^[a-z_]+$/);
      expect(typeof line.durationMs).toBe("number");
      expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
    }
    // And every ModelService line has all four fields.
    const rpcLines = service.logs.filter((l) => typeof l.method === "string" && l.method.startsWith("modelservice.v1.ModelService/"));
    for (const line of rpcLines) {
      expect(line).toEqual(expect.objectContaining({ method: expect.any(String), code: expect.any(String), durationMs: expect.any(Number), requestId: expect.any(String) }));
    }
    expect(rpcLines.length).toBeGreaterThanOrEqual(callIds.length);
  });
});

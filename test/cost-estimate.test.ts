import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, PreconditionFailureSchema } from "../gen/google/rpc/error_details_pb.js";
import { ModelSchema } from "../gen/modelservice/v1/model_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #17 item 6: EstimateCost and BatchEstimateCost over the wire (Connect,
 * gRPC, REST), checked against costs worked out by hand.
 */

let service: TestService;
let token: string;
const ws = "ws_costs";

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
});
afterAll(() => service.dispose());

const protocols = ["connect+json", "connect+proto", "grpc"] as const;

function client(protocol: string = "connect+json"): ModelClient {
  return modelClient(service.url, token, protocol);
}

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(service.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A workspace model with the given spec (JSON form). */
async function ownModel(spec: JsonObject): Promise<string> {
  const model = await client().createModel({ model: fromJson(ModelSchema, { metadata: { name: `m-${Math.random().toString(36).slice(2)}` }, spec }) });
  return model.metadata!.id;
}

async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call succeeded");
}

function fieldsOf(error: ConnectError): string[] {
  return error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field));
}

describe("priced from the per-million-token fields", () => {
  let id: string;
  beforeAll(async () => {
    id = await ownModel({
      provider: "acme",
      family: "acme-flat",
      inputPricePerMillionTokensUsd: "2.5",
      outputPricePerMillionTokensUsd: "10",
      cachedInputPricePerMillionTokensUsd: "0.25",
    });
  });

  it.each(protocols)("gives the exact cost with its breakdown over %s", async (protocol) => {
    const answer = await client(protocol).estimateCost({
      id,
      usage: { inputTokens: 1_234_567n, cacheReadTokens: 500_000n, outputTokens: 89_012n, reasoningTokens: 1_000n },
    });
    // 1,234,567 × $2.5/M = 3.0864175; 500,000 × $0.25/M = 0.125; (89,012 + 1,000 reasoning at the output price) × $10/M = 0.90012.
    expect(answer.totalUsd).toBe("4.1115375");
    expect(answer.components.map((c) => [c.component, c.quantity, c.unitPriceUsd, c.costUsd])).toEqual([
      ["input_usd_per_mtok", 1_234_567n, "2.5", "3.0864175"],
      ["output_usd_per_mtok", 90_012n, "10", "0.90012"],
      ["cache_read_usd_per_mtok", 500_000n, "0.25", "0.125"],
    ]);
    expect(answer.modelId).toBe(id);
    expect(answer.contextTierAboveInputTokens).toBeUndefined();
    expect(answer.overrideApplied).toBe(false);
  });

  it("answers REST at /v1/models/{id}:estimateCost, int64 counts as JSON strings or numbers", async () => {
    const { status, json } = await post(`/v1/models/${id}:estimateCost`, { usage: { inputTokens: "3", outputTokens: 7 } });
    expect(status, JSON.stringify(json)).toBe(200);
    // 3 × 2.5 / 1e6 + 7 × 10 / 1e6 = 0.0000075 + 0.00007: plain notation, never an exponent.
    expect(json.totalUsd).toBe("0.0000775");
    expect(json.components).toEqual([
      { component: "input_usd_per_mtok", quantity: "3", unitPriceUsd: "2.5", costUsd: "0.0000075" },
      { component: "output_usd_per_mtok", quantity: "7", unitPriceUsd: "10", costUsd: "0.00007" },
    ]);
  });

  it("costs zero for no usage, and an unused unpriced component is no error", async () => {
    const answer = await client().estimateCost({ id, usage: {} });
    expect(answer.totalUsd).toBe("0");
    expect(answer.components).toEqual([]);
  });

  it.each(protocols)("refuses a used component without a price with FailedPrecondition naming it, over %s", async (protocol) => {
    const error = await rpcError(client(protocol).estimateCost({ id, usage: { inputTokens: 10n, audioInputTokens: 5n, webSearches: 1n } }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain("usage.audioInputTokens");
    expect(error.rawMessage).toContain("audio_input_usd_per_mtok");
    expect(error.rawMessage).toContain("usage.webSearches");
    const subjects = error.findDetails(PreconditionFailureSchema).flatMap((p) => p.violations.map((v) => v.subject));
    expect(subjects).toEqual(["usage.audioInputTokens", "usage.webSearches"]);
  });

  it("refuses an unpriced component over REST with 400 FAILED_PRECONDITION", async () => {
    const { status, json } = await post(`/v1/models/${id}:estimateCost`, { usage: { imageOutputTokens: "1" } });
    expect(status).toBe(400);
    expect(json.code).toBe(Code.FailedPrecondition);
    expect(String(json.message)).toContain("usage.imageOutputTokens");
  });

  it("refuses a model without any price for what was used: unknown is not free", async () => {
    const unpriced = await ownModel({ provider: "acme", family: "acme-unpriced" });
    const error = await rpcError(client().estimateCost({ id: unpriced, usage: { inputTokens: 1n } }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain("input_usd_per_mtok");
  });

  it("prices a usage at the time given (no history: today's prices)", async () => {
    const answer = await client().estimateCost({ id, usage: { outputTokens: 1_000_000n }, time: timestampFromDate(new Date("2020-01-01T00:00:00Z")) });
    expect(answer.totalUsd).toBe("10");
    expect(answer.priceEffectiveFrom).toBeUndefined();
  });

  describe("batch", () => {
    it.each(protocols)("answers each request in order with the exact total, over %s", async (protocol) => {
      const answer = await client(protocol).batchEstimateCost({
        requests: [
          { id, usage: { inputTokens: 1n } },
          { id, usage: { outputTokens: 3n } },
          { id, usage: { cacheReadTokens: 7n } },
        ],
      });
      // 0.0000025 + 0.00003 + 0.00000175: floats would not sum this exactly.
      expect(answer.estimates.map((e) => e.totalUsd)).toEqual(["0.0000025", "0.00003", "0.00000175"]);
      expect(answer.totalUsd).toBe("0.00003425");
    });

    it("answers REST at /v1/models:batchEstimateCost", async () => {
      const requests = Array.from({ length: 1000 }, () => ({ id, usage: { inputTokens: "1" } }));
      const { status, json } = await post("/v1/models:batchEstimateCost", { requests });
      expect(status, JSON.stringify(json).slice(0, 300)).toBe(200);
      expect((json.estimates as unknown[]).length).toBe(1000);
      expect(json.totalUsd).toBe("0.0025");
    });

    it("names the failing request: unknown model, unpriced usage, malformed item", async () => {
      const unknown = await rpcError(
        client().batchEstimateCost({ requests: [{ id, usage: { inputTokens: 1n } }, { id: "model_00000000000000000000000000", usage: {} }] }),
      );
      expect(unknown.code).toBe(Code.NotFound);
      expect(unknown.rawMessage).toMatch(/^requests\[1\]: /);
      const unpriced = await rpcError(
        client().batchEstimateCost({ requests: [{ id, usage: { audioOutputTokens: 1n } }, { id, usage: { inputTokens: 1n } }] }),
      );
      expect(unpriced.code).toBe(Code.FailedPrecondition);
      expect(unpriced.rawMessage).toMatch(/^requests\[0\]: .*usage\.audioOutputTokens/);
      const malformed = await rpcError(
        client().batchEstimateCost({ requests: [{ id, usage: { inputTokens: 1n } }, { id, usage: { outputTokens: -5n } }] }),
      );
      expect(malformed.code).toBe(Code.InvalidArgument);
      expect(fieldsOf(malformed)).toEqual(["requests[1].usage.outputTokens"]);
      const noUsage = await rpcError(client().batchEstimateCost({ requests: [{ id }] }));
      expect(noUsage.code).toBe(Code.InvalidArgument);
      expect(fieldsOf(noUsage)).toEqual(["requests[0].usage"]);
    });

    it("refuses an empty batch and one over 1000 requests", async () => {
      expect(fieldsOf(await rpcError(client().batchEstimateCost({ requests: [] })))).toEqual(["requests"]);
      const tooMany = Array.from({ length: 1001 }, () => ({ id, usage: {} }));
      const error = await rpcError(client().batchEstimateCost({ requests: tooMany }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(fieldsOf(error)).toEqual(["requests"]);
    });
  });

  describe("malformed usage is InvalidArgument naming the field", () => {
    const bad: Array<[string, unknown]> = [
      ["negative", -1],
      ["negative string", "-1"],
      ["above the maximum", "1000000000001"],
      ["beyond int64", "99999999999999999999"],
      ["a fraction", 1.5],
      ["a fraction as a string", "1.5"],
      ["an exponent string", "1e3"],
      ["text", "many"],
      ["a boolean", true],
    ];

    it.each(bad)("refuses %s over Connect JSON", async (_label, value) => {
      const { status, json } = await post("/modelservice.v1.ModelService/EstimateCost", { id, usage: { inputTokens: value } });
      expect(status, JSON.stringify(json)).toBe(400);
      expect(json.code).toBe("invalid_argument");
      expect(JSON.stringify(json)).toContain("inputTokens");
    });

    it.each(bad)("refuses %s over REST", async (_label, value) => {
      const { status, json } = await post(`/v1/models/${id}:estimateCost`, { usage: { cacheWrite1hTokens: value } });
      expect(status, JSON.stringify(json)).toBe(400);
      expect(json.code).toBe(Code.InvalidArgument);
      expect(JSON.stringify(json)).toContain("cacheWrite1hTokens");
    });

    it.each(protocols)("refuses a negative count over %s", async (protocol) => {
      const error = await rpcError(client(protocol).estimateCost({ id, usage: { webSearches: -1n } }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(fieldsOf(error)).toEqual(["usage.webSearches"]);
    });

    it("refuses a request without usage, and one naming no model", async () => {
      expect(fieldsOf(await rpcError(client().estimateCost({ id })))).toEqual(["usage"]);
      expect(fieldsOf(await rpcError(client().estimateCost({ usage: {} })))).toEqual(["id"]);
      expect(fieldsOf(await rpcError(client().estimateCost({ id, catalogId: "openai/gpt-5", usage: {} })))).toEqual(["catalogId"]);
    });
  });

  describe("catalog ids", () => {
    it("refuses a malformed catalog id with InvalidArgument and an unknown one with NotFound, naming it", async () => {
      const malformed = await rpcError(client().estimateCost({ catalogId: "no slash here", usage: {} }));
      expect(malformed.code).toBe(Code.InvalidArgument);
      expect(fieldsOf(malformed)).toEqual(["catalogId"]);
      const unknown = await rpcError(client().estimateCost({ catalogId: "acme/no-such-model", usage: {} }));
      expect(unknown.code).toBe(Code.NotFound);
      expect(unknown.rawMessage).toContain("acme/no-such-model");
      const { status } = await post("/v1/models:estimateCost", { catalogId: "acme/no-such-model", usage: {} });
      expect(status).toBe(404);
    });

    it("finds the workspace's copy of a catalog model by its catalog id (REST /v1/models:estimateCost)", async () => {
      const listed = await client().listModels({ filter: "metadata.origin = MODEL_ORIGIN_SYSTEM", limit: 1 });
      const copy = listed.items[0]!;
      const { status, json } = await post("/v1/models:estimateCost", { catalogId: copy.metadata!.catalogId, usage: {} });
      expect(status, JSON.stringify(json)).toBe(200);
      expect(json.modelId).toBe(copy.metadata!.id);
      expect(json.catalogId).toBe(copy.metadata!.catalogId);
    });
  });
});

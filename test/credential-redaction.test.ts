import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialsSchema } from "../gen/modelservice/v1/model_pb.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * A value sent in a credentials field never comes back in an error (issue 14
 * item 10): every credentials field, every wrong JSON type, over Connect
 * JSON, gRPC-Web JSON and REST, for both messages that carry credentials.
 * Neither the response (body, headers, trailers) nor the service's log may
 * hold it.
 */

const ws = "ws_redaction";

let service: TestService;
let token: string;
let modelId: string;

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  const res = await fetch(`${service.url}/v1/models`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ metadata: { name: "redaction" }, spec: { provider: "acme", modelUrl: "https://api.acme.example/v1" } }),
  });
  expect(res.status).toBe(200);
  modelId = ((await res.json()) as { metadata: { id: string } }).metadata.id;
});
afterAll(() => service.dispose());

/** Where a credentials value can be: the Credentials message itself, and each of its fields (read from the proto). */
const places = ["credentials", ...CredentialsSchema.fields.map((f) => `credentials.${f.jsonName}`)];

interface WrongValue {
  type: string;
  value: (secret: string) => unknown;
  /** Text that must not appear anywhere once the value was sent. */
  needles: (secret: string) => string[];
}

const number = 9_876_543_210_123;
const wrongValues: WrongValue[] = [
  { type: "string", value: (s) => s, needles: (s) => [s] },
  { type: "number", value: () => number, needles: () => [String(number)] },
  { type: "bool", value: () => true, needles: () => ["got true", ": true"] },
  { type: "array", value: (s) => [s, s], needles: (s) => [s] },
  { type: "object", value: (s) => ({ value: s, [s]: s }), needles: (s) => [s] },
  { type: "null", value: () => null, needles: () => ["got null", ": null"] },
];

/** The Credentials JSON that puts `value` at `place`: the whole message, or one of its fields. */
function credentialsWith(place: string, value: unknown): unknown {
  return place === "credentials" ? value : { [place.split(".")[1]!]: value };
}

type Rpc = "CreateModel" | "RotateModelCredentials";

function rpcBody(rpc: Rpc, credentials: unknown): Record<string, unknown> {
  return rpc === "CreateModel"
    ? { model: { metadata: { name: "leak" }, spec: { provider: "acme", modelUrl: "https://api.acme.example/v1", credentials } } }
    : { id: modelId, credentials };
}

function restCall(rpc: Rpc, credentials: unknown): { path: string; body: unknown } {
  return rpc === "CreateModel"
    ? { path: "/v1/models", body: rpcBody(rpc, credentials).model }
    : { path: `/v1/models/${modelId}:rotateCredentials`, body: { credentials } };
}

function grpcWebFrame(json: unknown): Uint8Array {
  const data = Buffer.from(JSON.stringify(json));
  const frame = Buffer.alloc(5 + data.length);
  frame.writeUInt32BE(data.length, 1);
  data.copy(frame, 5);
  return frame;
}

/** Everything the client sees of a response: status, headers and body bytes (latin1, so any byte sequence survives). */
async function seen(res: Response): Promise<{ status: number; text: string }> {
  const body = Buffer.from(await res.arrayBuffer()).toString("latin1");
  const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
  return { status: res.status, text: `${headers}\n\n${body}` };
}

async function send(protocol: string, rpc: Rpc, credentials: unknown): Promise<{ status: number; text: string }> {
  const auth = { authorization: `Bearer ${token}` };
  switch (protocol) {
    case "connect+json":
      return seen(
        await fetch(`${service.url}/modelservice.v1.ModelService/${rpc}`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify(rpcBody(rpc, credentials)),
        }),
      );
    case "grpc-web+json":
      return seen(
        await fetch(`${service.url}/modelservice.v1.ModelService/${rpc}`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/grpc-web+json", "x-grpc-web": "1" },
          body: grpcWebFrame(rpcBody(rpc, credentials)),
        }),
      );
    default: {
      const { path, body } = restCall(rpc, credentials);
      return seen(await fetch(service.url + path, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) }));
    }
  }
}

const protocols = ["connect+json", "grpc-web+json", "rest"];
const rpcs: Rpc[] = ["CreateModel", "RotateModelCredentials"];

describe("credentials values never appear in errors or logs", () => {
  for (const protocol of protocols) {
    for (const rpc of rpcs) {
      it(`${protocol} ${rpc}: every credentials field with every wrong type`, async () => {
        const leaks: string[] = [];
        for (const place of places) {
          for (const wrong of wrongValues) {
            const secret = `sk-live-${protocol.replace(/\W/g, "")}-${rpc}-${place.replace(".", "_")}-${wrong.type}-0123456789abcdef`;
            const { status, text } = await send(protocol, rpc, credentialsWith(place, wrong.value(secret)));
            expect(status, `${place} as ${wrong.type}: ${text}`).toBeLessThan(500);
            for (const needle of wrong.needles(secret)) if (text.includes(needle)) leaks.push(`${place} as ${wrong.type}: ${text}`);
            const log = JSON.stringify(service.logs);
            for (const needle of wrong.needles(secret)) if (log.includes(needle)) leaks.push(`log, ${place} as ${wrong.type}`);
          }
        }
        expect(leaks).toEqual([]);
      });
    }
  }

  it("the error still names the field and the expected type (the control)", async () => {
    const { status, text } = await send("rest", "CreateModel", { token: 42 });
    expect(status).toBe(400);
    expect(text).toContain("model.spec.credentials.token");
    expect(text).toContain("must be a string");
  });

  it("a JSON syntax error does not quote the request text around a credentials value", async () => {
    const secret = "sk-live-syntax-0123456789abcdef";
    for (const url of [`${service.url}/modelservice.v1.ModelService/CreateModel`, `${service.url}/v1/models`]) {
      const body = url.endsWith("CreateModel")
        ? `{"model":{"metadata":{"name":"x"},"spec":{"credentials":{"token": ${secret}}}}}`
        : `{"metadata":{"name":"x"},"spec":{"credentials":{"token": ${secret}}}}`;
      const { status, text } = await seen(
        await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body }),
      );
      expect(status).toBe(400);
      expect(text).not.toContain(secret.slice(0, 10));
      expect(text).toContain("not valid JSON");
    }
  });
});

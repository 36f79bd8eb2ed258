import { execFile } from "node:child_process";
import { connect } from "node:http2";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "./support/service.js";

const run = promisify(execFile);
let service: TestService;

/** Runs the real `buf curl` from @bufbuild/buf against the service. */
async function bufCurl(...args: string[]): Promise<string> {
  const { stdout } = await run("node_modules/.bin/buf", ["curl", "--http2-prior-knowledge", ...args], { timeout: 30_000 });
  return stdout;
}

beforeAll(async () => {
  service = await startTestService({ MODELSERVICE_CORS_ORIGINS: "https://console.example" });
});
afterAll(() => service.dispose());

describe("reflection with buf curl", () => {
  it.each(["grpc-v1", "grpc-v1alpha"])("lists every method over %s", async (reflectProtocol) => {
    const out = await bufCurl("--protocol", "grpc", "--reflect-protocol", reflectProtocol, "--list-methods", service.url);
    for (const m of ["ListModels", "GetModel", "SetModelStatus", "EnableModel", "DisableModel"]) {
      expect(out).toContain(`modelservice.v1.ModelService/${m}`);
    }
    expect(out).toContain("grpc.health.v1.Health/Check");
  });

  it("calls ListModels through reflection with a token, over gRPC and Connect", async () => {
    const token = await service.token("ws_bufcurl");
    for (const protocol of ["grpc", "connect"]) {
      const out = await bufCurl(
        "--protocol", protocol,
        "-H", `Authorization: Bearer ${token}`,
        "-d", '{"limit": 2, "status": "MODEL_STATUS_ENABLED"}',
        `${service.url}/modelservice.v1.ModelService/ListModels`,
      );
      const body = JSON.parse(out) as { items: Array<{ metadata: { workspaceId: string } }>; pagination: { total: number } };
      expect(body.items).toHaveLength(2);
      expect(body.items[0]!.metadata.workspaceId).toBe("ws_bufcurl");
      expect(body.pagination.total).toBeGreaterThanOrEqual(30);
    }
  });

  it("fails for a service the server does not have", async () => {
    await expect(bufCurl("--protocol", "grpc", "--list-methods", `${service.url}/no.such.Service`)).rejects.toThrow();
  });
});

describe("health", () => {
  it("serves GET /healthz and /readyz without a token", async () => {
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("grpc.health.v1.Health/Check over buf curl", async () => {
    const out = await bufCurl("--protocol", "grpc", "-d", '{"service": "modelservice.v1.ModelService"}', `${service.url}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
    await expect(bufCurl("--protocol", "grpc", "-d", '{"service": "nope"}', `${service.url}/grpc.health.v1.Health/Check`)).rejects.toThrow(/not_found/);
  });

  it("answers an unknown path with 404, not a hang", async () => {
    expect((await fetch(`${service.url}/nope`)).status).toBe(404);
    expect((await fetch(`${service.url}/modelservice.v1.ModelService/Nope`, { method: "POST" })).status).toBe(404);
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin with connect's headers plus Authorization", async () => {
    const res = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels`, {
      method: "OPTIONS",
      headers: {
        origin: "https://console.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,connect-protocol-version",
      },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://console.example");
    const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase();
    for (const h of ["authorization", "content-type", "connect-protocol-version", "grpc-timeout"]) expect(allowed).toContain(h);
    const methods = res.headers.get("access-control-allow-methods")!;
    for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE"]) expect(methods).toContain(m);
  });

  it("does not allow another origin", async () => {
    const res = await fetch(`${service.url}/healthz`, { headers: { origin: "https://evil.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("an allowed origin's call gets CORS headers; a call without Origin (no browser) gets none, but Vary: Origin", async () => {
    const call = (headers: Record<string, string>) => fetch(`${service.url}/healthz`, { headers });
    const browser = await call({ origin: "https://console.example" });
    expect(browser.headers.get("access-control-allow-origin")).toBe("https://console.example");
    expect(browser.headers.get("access-control-expose-headers")!.toLowerCase()).toContain("x-request-id");
    const plain = await call({});
    expect(plain.status).toBe(200);
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    expect(plain.headers.get("access-control-expose-headers")).toBeNull();
    expect(plain.headers.get("vary")).toBe("Origin");
  });
});

describe("graceful shutdown", () => {
  it("reports NOT_SERVING to watchers, refuses new connections and closes the database", async () => {
    const token = await service.token("ws_shutdown");
    // A Watch stream over raw h2c sees SERVING, then NOT_SERVING when the service stops.
    const session = connect(service.url);
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Watch",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    const frames: Buffer[] = [];
    stream.on("data", (c: Buffer) => frames.push(c));
    const ended = new Promise<void>((resolve) => stream.on("close", resolve));
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`${service.url}/modelservice.v1.ModelService/ListModels`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    })).status).toBe(200);
    const store = service.running.store;
    await service.stop();
    await ended;
    await expect(store.getModel("ws_shutdown", "model_01ARZ3NDEKTSV4RRFFQ69G5FAV")).rejects.toThrow(/not open/);
    session.destroy();
    // status field 1: SERVING = 1, NOT_SERVING = 2 (message bytes 0x08 0x01 / 0x08 0x02)
    const all = Buffer.concat(frames);
    expect(all.includes(Buffer.from([0x08, 0x01]))).toBe(true);
    expect(all.includes(Buffer.from([0x08, 0x02]))).toBe(true);
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
    await service.restart();
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });
});

import { Code, ConnectError } from "@connectrpc/connect";
import { SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelClient } from "./support/clients.js";
import { jwtSecret, startTestService, type TestService } from "./support/service.js";

/**
 * Token lifetimes (issue 14 item 12) and the rate limit's key (item 11),
 * over Connect and REST.
 */

const secret = new TextEncoder().encode(jwtSecret);
const now = () => Math.floor(Date.now() / 1000);
const ws = "ws_tokens";

function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const payload: Record<string, unknown> = {
    sub: "profile_tokens",
    account_id: "acct_test",
    workspace_id: ws,
    scope: "models:read",
    iat: now(),
    exp: now() + 600,
    ...overrides,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return payload as JWTPayload;
}

const signed = (payload: JWTPayload) => new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);

/** The code of a ListModels call over Connect ("ok" when it succeeds) and the HTTP status of the same call over REST. */
async function outcome(service: TestService, token: string): Promise<{ connect: string; rest: number; message: string }> {
  let connect = "ok";
  let message = "";
  try {
    await modelClient(service.url, token).listModels({ limit: 1 });
  } catch (e) {
    const error = ConnectError.from(e);
    connect = Code[error.code];
    message = error.rawMessage;
  }
  const res = await fetch(`${service.url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return { connect, rest: res.status, message };
}

describe("token lifetimes", () => {
  let service: TestService;
  let strict: TestService;
  beforeAll(async () => {
    service = await startTestService();
    strict = await startTestService({ MODELSERVICE_JWT_CLOCK_SKEW_SECONDS: "0", MODELSERVICE_JWT_MAX_LIFETIME_SECONDS: "3600" });
  });
  afterAll(async () => {
    await service.dispose();
    await strict.dispose();
  });

  it("accepts a well-formed token (the control)", async () => {
    expect(await outcome(service, await signed(claims()))).toMatchObject({ connect: "ok", rest: 200 });
  });

  it("refuses a token without exp", async () => {
    const result = await outcome(service, await signed(claims({ exp: undefined })));
    expect(result).toMatchObject({ connect: "Unauthenticated", rest: 401 });
    expect(result.message).toContain('"exp"');
  });

  it("refuses a token issued in the future beyond the clock skew (default 60 s), and accepts one within it", async () => {
    const future = await outcome(service, await signed(claims({ iat: now() + 600, exp: now() + 1200 })));
    expect(future).toMatchObject({ connect: "Unauthenticated", rest: 401 });
    expect(future.message).toContain('"iat"');
    expect(await outcome(service, await signed(claims({ iat: now() + 30 })))).toMatchObject({ connect: "ok", rest: 200 });
  });

  it("MODELSERVICE_JWT_CLOCK_SKEW_SECONDS=0 forgives no skew", async () => {
    expect(await outcome(strict, await signed(claims({ iat: now() + 30 })))).toMatchObject({ connect: "Unauthenticated", rest: 401 });
  });

  it("MODELSERVICE_JWT_MAX_LIFETIME_SECONDS refuses longer lifetimes and tokens without iat", async () => {
    expect(await outcome(strict, await signed(claims({ exp: now() + 3600 })))).toMatchObject({ connect: "ok", rest: 200 });
    const long = await outcome(strict, await signed(claims({ exp: now() + 3601 })));
    expect(long).toMatchObject({ connect: "Unauthenticated", rest: 401 });
    expect(long.message).toContain("3600 seconds");
    expect(await outcome(strict, await signed(claims({ iat: undefined })))).toMatchObject({ connect: "Unauthenticated", rest: 401 });
    // Without the setting, any lifetime goes.
    expect(await outcome(service, await signed(claims({ exp: now() + 10 * 365 * 86400 })))).toMatchObject({ connect: "ok", rest: 200 });
  });

  it("the test helper's tokens (token-minter, as `npm run token` uses it) pass the strict service", async () => {
    expect(await outcome(strict, await strict.token(ws, { ttl: "1h" }))).toMatchObject({ connect: "ok", rest: 200 });
  });

  it("dev mode's console token lives no longer than MODELSERVICE_JWT_MAX_LIFETIME_SECONDS, so it is accepted", async () => {
    const dev = await startTestService({ MODELSERVICE_JWT_SECRET: "", MODELSERVICE_JWT_MAX_LIFETIME_SECONDS: "1800" });
    try {
      const res = await fetch(`${dev.url}/console/dev-token`);
      expect(res.status).toBe(200);
      const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
      expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(1800 * 1000);
      expect(await outcome(dev, token)).toMatchObject({ connect: "ok", rest: 200 });
    } finally {
      await dev.dispose();
    }
  });
});

const base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * The same signed token, written differently: an HS256 signature is 32 bytes,
 * 43 base64url characters whose last one carries 2 spare bits; setting one
 * gives other text for the very same bytes.
 */
function reencoded(token: string, spareBits: 1 | 2 | 3): string {
  const last = token.at(-1)!;
  return token.slice(0, -1) + base64url[base64url.indexOf(last) ^ spareBits];
}

describe("the rate limit is keyed on the verified token, not its text", () => {
  let service: TestService;
  beforeAll(async () => {
    // Burst 2 and a refill too slow to matter during the test.
    service = await startTestService({ MODELSERVICE_RATE_LIMIT_RPS: "0.01", MODELSERVICE_RATE_LIMIT_BURST: "2" });
  });
  afterAll(() => service.dispose());

  it("two encodings of one JWT share one bucket, over Connect and REST", async () => {
    const token = await signed(claims({ sub: "profile_bucket" }));
    const twin = reencoded(token, 1);
    expect(twin).not.toBe(token);
    expect(Buffer.from(twin.split(".")[2]!, "base64url")).toEqual(Buffer.from(token.split(".")[2]!, "base64url"));

    const client = modelClient(service.url, token);
    await client.listModels({ limit: 1 });
    // The re-encoded token is accepted (it is the same token) and takes the second call of the same bucket.
    await modelClient(service.url, twin).listModels({ limit: 1 });
    const limited = await client.listModels({ limit: 1 }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(limited && Code[limited.code]).toBe("ResourceExhausted");
    const rest = await fetch(`${service.url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${reencoded(token, 2)}` } });
    expect(rest.status).toBe(429);

    // Another caller's token still has its own bucket.
    expect(await outcome(service, await signed(claims({ sub: "profile_other" })))).toMatchObject({ connect: "ok", rest: 200 });
  });
});

import { createSecretKey } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyOptions, type JWTVerifyResult } from "jose";
import { ByteBoundedLru } from "../../storage/byte-bounded-lru.js";
import { isWorkspaceId, type Principal } from "./principal.js";

export type TokenKeys =
  | { kind: "secret"; secret: Uint8Array }
  | { kind: "jwks"; jwks: JSONWebKeySet };

export interface TokenVerifierOptions {
  keys: TokenKeys;
  issuer?: string;
  audience?: string;
}

const asymmetricAlgorithms = ["RS256", "ES256", "EdDSA"];
/** Bytes the verified tokens may take: a token is as long as its issuer makes it, up to the header limit. */
const maxCachedTokenBytes = 8 * 1024 * 1024;
const maxCacheMs = 60_000;

function unauthenticated(reason: string): ConnectError {
  return new ConnectError(`invalid token: ${reason}`, Code.Unauthenticated);
}

function claim(payload: JWTPayload, name: string): string {
  const value = payload[name];
  if (typeof value !== "string" || value === "") throw unauthenticated(`claim "${name}" is missing`);
  return value;
}

function workspaceClaim(payload: JWTPayload): string {
  const workspaceId = claim(payload, "workspace_id");
  if (!isWorkspaceId(workspaceId)) throw unauthenticated('claim "workspace_id" is not a workspace id');
  return workspaceId;
}

/** About what a principal takes on the heap: its strings at two bytes a character, plus the objects around them. */
function principalBytes(principal: Principal): number {
  const strings = [principal.profileId, principal.accountId, principal.workspaceId, ...principal.scopes];
  return 256 + strings.reduce((sum, s) => sum + 2 * s.length + 32, 0);
}

/**
 * Verifies bearer JWTs with jose: HS256 with a shared secret, or RS256 /
 * ES256 / EdDSA with a JWKS. The algorithm list is fixed per key kind, so
 * `alg: none` and every unsigned or differently-signed token fail.
 */
export class TokenVerifier {
  private readonly verifyJwt: (token: string) => Promise<JWTVerifyResult>;
  /**
   * Tokens already verified, until they expire (at most a minute): callers
   * reuse one token for many calls, and a signature check costs more than the
   * rest of a GetModel.
   */
  private readonly verified = new ByteBoundedLru<{ principal: Principal; until: number }>(maxCachedTokenBytes);

  constructor(options: TokenVerifierOptions) {
    const common: JWTVerifyOptions = { issuer: options.issuer, audience: options.audience };
    const keys = options.keys;
    if (keys.kind === "secret") {
      // A KeyObject lets jose verify with node:crypto directly instead of importing the key on every call.
      const key = createSecretKey(keys.secret);
      this.verifyJwt = (token) => jwtVerify(token, key, { ...common, algorithms: ["HS256"] });
    } else {
      const jwks = createLocalJWKSet(keys.jwks);
      this.verifyJwt = (token) => jwtVerify(token, jwks, { ...common, algorithms: asymmetricAlgorithms });
    }
  }

  async verify(token: string): Promise<Principal> {
    const now = Date.now();
    const cached = this.verified.get(token);
    if (cached && now < cached.until) return cached.principal;
    this.verified.delete(token);
    const { principal, expiresAt } = await this.verifyUncached(token);
    this.verified.set(token, { principal, until: Math.min(expiresAt ?? Infinity, now + maxCacheMs) }, principalBytes(principal));
    return principal;
  }

  private async verifyUncached(token: string): Promise<{ principal: Principal; expiresAt?: number }> {
    let payload: JWTPayload;
    try {
      payload = (await this.verifyJwt(token)).payload;
    } catch (e) {
      // jose's codes ("ERR_JWT_EXPIRED", "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", …) say why without echoing the token.
      const code = (e as { code?: unknown }).code;
      throw unauthenticated(typeof code === "string" ? code.replace(/^ERR_/, "").toLowerCase() : "malformed");
    }
    const scope = payload.scope;
    if (scope !== undefined && typeof scope !== "string") throw unauthenticated('claim "scope" is not a string');
    const principal: Principal = {
      profileId: claim(payload, "sub"),
      accountId: claim(payload, "account_id"),
      workspaceId: workspaceClaim(payload),
      scopes: new Set((scope ?? "").split(" ").filter((s) => s !== "")),
    };
    return { principal, expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000 };
  }
}

import { createHash, createSecretKey } from "node:crypto";
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
  /** Seconds of clock difference forgiven when checking `exp`, `nbf` and `iat`. */
  clockSkewSeconds: number;
  /** The longest lifetime (`exp` - `iat`, seconds) accepted; undefined = any. */
  maxLifetimeSeconds?: number;
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
  const strings = [principal.profileId, principal.accountId, principal.workspaceId, principal.tokenId, ...principal.scopes];
  return 256 + strings.reduce((sum, s) => sum + 2 * s.length + 32, 0);
}

/**
 * What tells a token apart from others of the same caller: its `jti`, else a
 * digest of its decoded claims — never of its text, which has several
 * encodings (spare bits of base64url) for one signed token.
 */
function tokenIdOf(payload: JWTPayload): string {
  if (typeof payload.jti === "string" && payload.jti !== "") return `jti:${payload.jti}`;
  return "claims:" + createHash("sha256").update(JSON.stringify(payload)).digest("base64url");
}

/**
 * Verifies bearer JWTs with jose: HS256 with a shared secret, or RS256 /
 * ES256 / EdDSA with a JWKS. The algorithm list is fixed per key kind, so
 * `alg: none` and every unsigned or differently-signed token fail. Every
 * token must expire (`exp`), must not be issued in the future (`iat`, beyond
 * the clock skew) and, when a maximum lifetime is set, must carry `iat` and
 * live no longer than it.
 */
export class TokenVerifier {
  private readonly verifyJwt: (token: string) => Promise<JWTVerifyResult>;
  /**
   * Tokens already verified, until they expire (at most a minute): callers
   * reuse one token for many calls, and a signature check costs more than the
   * rest of a GetModel.
   */
  private readonly verified = new ByteBoundedLru<{ principal: Principal; until: number }>(maxCachedTokenBytes);

  private readonly clockSkewSeconds: number;
  private readonly maxLifetimeSeconds?: number;

  constructor(options: TokenVerifierOptions) {
    this.clockSkewSeconds = options.clockSkewSeconds;
    this.maxLifetimeSeconds = options.maxLifetimeSeconds;
    const common: JWTVerifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      requiredClaims: options.maxLifetimeSeconds === undefined ? ["exp"] : ["exp", "iat"],
      clockTolerance: options.clockSkewSeconds,
    };
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
    this.verified.set(token, { principal, until: Math.min(expiresAt, now + maxCacheMs) }, principalBytes(principal));
    return principal;
  }

  private async verifyUncached(token: string): Promise<{ principal: Principal; expiresAt: number }> {
    let payload: JWTPayload;
    try {
      payload = (await this.verifyJwt(token)).payload;
    } catch (e) {
      // A missing claim says which; the claim's value is never echoed.
      if ((e as { reason?: unknown }).reason === "missing") throw unauthenticated(`claim "${String((e as { claim?: unknown }).claim)}" is missing`);
      // jose's codes ("ERR_JWT_EXPIRED", "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", …) say why without echoing the token.
      const code = (e as { code?: unknown }).code;
      throw unauthenticated(typeof code === "string" ? code.replace(/^ERR_/, "").toLowerCase() : "malformed");
    }
    // jose has checked that exp is present and a number (requiredClaims).
    const exp = payload.exp!;
    this.checkTimes(payload.iat, exp);
    const scope = payload.scope;
    if (scope !== undefined && typeof scope !== "string") throw unauthenticated('claim "scope" is not a string');
    const principal: Principal = {
      profileId: claim(payload, "sub"),
      accountId: claim(payload, "account_id"),
      workspaceId: workspaceClaim(payload),
      scopes: new Set((scope ?? "").split(" ").filter((s) => s !== "")),
      tokenId: tokenIdOf(payload),
    };
    return { principal, expiresAt: exp * 1000 };
  }

  /** What jose leaves to the caller: `iat` in the future (it checks that only with maxTokenAge) and the lifetime. */
  private checkTimes(iat: number | undefined, exp: number): void {
    if (iat === undefined) return;
    if (iat > Date.now() / 1000 + this.clockSkewSeconds) throw unauthenticated('claim "iat" is in the future');
    if (this.maxLifetimeSeconds !== undefined && exp - iat > this.maxLifetimeSeconds) {
      throw unauthenticated(`lifetime (exp - iat) is longer than ${this.maxLifetimeSeconds} seconds`);
    }
  }
}

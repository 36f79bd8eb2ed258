import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { scopes } from "../../domain/auth/principal.js";
import { mintToken } from "../../domain/auth/token-minter.js";

/**
 * GET /console/dev-token in dev mode: a token for the dev workspace, so that
 * the console opened on the developer's own machine needs no copy and paste.
 * Anyone who gets it can manage the workspace, so it is handed out only when
 * every sign says the page asking is this service's own, on this machine:
 * the connection comes from a loopback address without proxy headers (a
 * local reverse proxy would make remote callers look local), the Host is a
 * loopback name (a DNS-rebound evil.example pointing at 127.0.0.1 is not),
 * and a browser request is same-origin (CORS "*" would otherwise let any web
 * page read it).
 */

export interface DevTokenOptions {
  secret: Uint8Array;
  workspaceId: string;
  accountId: string;
  profileId: string;
  issuer?: string;
  audience?: string;
  /** MODELSERVICE_JWT_MAX_LIFETIME_SECONDS: the token lives no longer, or it would be refused. */
  maxLifetimeSeconds?: number;
}

/** Long enough for a working day; once it expires the sign-in page offers a new one. */
const ttlSeconds = 12 * 60 * 60;

const loopbackHost = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  return v4 === "::1" || /^127(?:\.\d{1,3}){3}$/.test(v4);
}

function header(req: IncomingMessage | Http2ServerRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Why this request may not have the token, or undefined when it may. */
function refusal(req: IncomingMessage | Http2ServerRequest): string | undefined {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return "the dev token is given only to clients on this machine";
  if (header(req, "x-forwarded-for") !== undefined || header(req, "forwarded") !== undefined) {
    return "the dev token is not given through a proxy";
  }
  const host = header(req, "host") ?? header(req, ":authority") ?? "";
  if (!loopbackHost.test(host)) return "the dev token is given only at a loopback address (localhost, 127.0.0.1, [::1])";
  const origin = header(req, "origin");
  const fetchSite = header(req, "sec-fetch-site");
  if ((origin !== undefined && origin !== `http://${host}`) || (fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none")) {
    return "the dev token is given only to the console served by this service";
  }
  return undefined;
}

function send(res: ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

export function devTokenEndpoint(o: DevTokenOptions): (req: IncomingMessage | Http2ServerRequest, res: ServerResponse) => void {
  return (req, res) => {
    // The CORS layer already allowed every origin; this answer is for same-origin pages only.
    res.removeHeader("access-control-allow-origin");
    const reason = refusal(req);
    if (reason) return send(res, 403, reason + "\n", "text/plain; charset=utf-8");
    const ttl = Math.min(ttlSeconds, o.maxLifetimeSeconds ?? Infinity);
    const expiresAt = new Date((Math.floor(Date.now() / 1000) + ttl) * 1000).toISOString();
    mintToken({
      secret: o.secret,
      workspaceId: o.workspaceId,
      accountId: o.accountId,
      profileId: o.profileId,
      scope: scopes.join(" "),
      ttl,
      issuer: o.issuer,
      audience: o.audience,
    }).then(
      (token) => send(res, 200, JSON.stringify({ token, workspaceId: o.workspaceId, expiresAt }), "application/json; charset=utf-8"),
      (e: unknown) => send(res, 500, `could not mint the dev token: ${(e as Error).message}\n`, "text/plain; charset=utf-8"),
    );
  };
}

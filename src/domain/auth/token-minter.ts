import { SignJWT } from "jose";

export interface MintOptions {
  secret: Uint8Array;
  workspaceId: string;
  accountId: string;
  profileId: string;
  scope: string;
  /** Lifetime as jose accepts it: "1h", "30d", or seconds. */
  ttl: string | number;
  issuer?: string;
  audience?: string;
}

/** Mints an HS256 token with the service's claims (dev mode and tests). */
export async function mintToken(o: MintOptions): Promise<string> {
  let jwt = new SignJWT({ account_id: o.accountId, workspace_id: o.workspaceId, scope: o.scope })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(o.profileId)
    .setIssuedAt()
    .setExpirationTime(typeof o.ttl === "number" ? Math.floor(Date.now() / 1000) + o.ttl : o.ttl);
  if (o.issuer) jwt = jwt.setIssuer(o.issuer);
  if (o.audience) jwt = jwt.setAudience(o.audience);
  return jwt.sign(o.secret);
}

/** The verified caller of a request, from its bearer token. */
export interface Principal {
  /** The `sub` claim: the profile id of the user or service account. */
  profileId: string;
  accountId: string;
  workspaceId: string;
  scopes: ReadonlySet<string>;
  /** The token's identity (its `jti`, else a digest of its claims): equal for every encoding of one token. */
  tokenId: string;
}

export const scopes = ["models:read", "models:create", "models:update", "models:delete", "models:admin"] as const;

const workspaceIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function isWorkspaceId(text: string): boolean {
  return workspaceIdPattern.test(text);
}

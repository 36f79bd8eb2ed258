/** The verified caller of a request, from its bearer token. */
export interface Principal {
  /** The `sub` claim: the profile id of the user or service account. */
  profileId: string;
  accountId: string;
  workspaceId: string;
  scopes: ReadonlySet<string>;
}

export const scopes = ["models:read", "models:create", "models:update", "models:delete", "models:admin"] as const;

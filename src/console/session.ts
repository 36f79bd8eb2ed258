/**
 * The signed-in state: the bearer token, kept in sessionStorage (gone when the
 * tab closes, never shared with other tabs or sent anywhere but the service),
 * and why the last session ended, for the sign-in page to say.
 */

export interface SessionState {
  token?: string;
  /** Why the user was signed out (an expired token, say); shown on the sign-in page. */
  message?: string;
}

const storageKey = "modelservice.token";

function stored(): string | undefined {
  try {
    return sessionStorage.getItem(storageKey) ?? undefined;
  } catch {
    // Storage can be disabled by the browser's settings: the console then works for one page view.
    return undefined;
  }
}

let state: SessionState = { token: stored() };
const listeners = new Set<(state: SessionState) => void>();

function set(next: SessionState): void {
  state = next;
  for (const listener of listeners) listener(state);
}

export const session = {
  get: (): SessionState => state,
  signIn(token: string): void {
    try {
      sessionStorage.setItem(storageKey, token);
    } catch {
      // See stored(): kept in memory only.
    }
    set({ token });
  },
  signOut(message?: string): void {
    try {
      sessionStorage.removeItem(storageKey);
    } catch {
      // Nothing was stored.
    }
    set({ message });
  },
  subscribe(listener: (state: SessionState) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export interface TokenClaims {
  workspaceId?: string;
  /** Expiry, in seconds since the epoch. */
  exp?: number;
}

/**
 * What the token says about itself, for display only (the workspace in the
 * header): the service verifies every call, the page verifies nothing.
 */
export function tokenClaims(token: string): TokenClaims {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as { workspace_id?: unknown; exp?: unknown };
    return {
      workspaceId: typeof claims.workspace_id === "string" ? claims.workspace_id : undefined,
      exp: typeof claims.exp === "number" ? claims.exp : undefined,
    };
  } catch {
    return {};
  }
}

import { useEffect, useState } from "preact/hooks";

/**
 * The signed-in state: the bearer token, kept in sessionStorage (gone when the
 * tab closes, never shared with other tabs or sent anywhere but the service),
 * and why the last session ended, for the sign-in page to say.
 */

export interface SessionState {
  token?: string;
  /** Why the user was signed out, or why the token stopped working; shown where they sign in again. */
  message?: string;
  /**
   * The service refused the token (it expired, say): the page stays as it is,
   * forms keep what was typed, and the user signs in again on top of it.
   */
  expired?: boolean;
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

function forget(): void {
  try {
    sessionStorage.removeItem(storageKey);
  } catch {
    // Nothing was stored.
  }
}
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
    forget();
    set({ message });
  },
  /** The token no longer works: ask for another one without leaving the page. */
  expire(message: string): void {
    forget();
    set({ token: state.token, message, expired: true });
  },
  subscribe(listener: (state: SessionState) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** The session as a Preact state, following every change. */
export function useSession(): SessionState {
  const [current, setCurrent] = useState(state);
  useEffect(() => session.subscribe(setCurrent), []);
  return current;
}

/** A pasted token, or why it is not one. */
export function parseToken(text: string): { token: string } | { problem: string } {
  const token = text.trim().replace(/^Bearer\s+/i, "");
  return token.split(".").length === 3 ? { token } : { problem: "That is not a token: a token is three parts separated by dots (a JWT)." };
}

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

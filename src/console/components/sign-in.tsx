import { useEffect, useState } from "preact/hooks";
import { serviceUrl } from "../service-client.js";
import { session } from "../session.js";
import { TokenForm } from "./token-form.js";

interface DevToken {
  token: string;
  workspaceId: string;
  expiresAt: string;
}

/** Asks the service for the dev workspace's token; undefined unless it runs in dev mode and this page is its own, on this machine. */
async function fetchDevToken(): Promise<DevToken | undefined> {
  try {
    const res = await fetch(`${serviceUrl()}/console/dev-token`, { cache: "no-store" });
    return res.ok ? ((await res.json()) as DevToken) : undefined;
  } catch {
    return undefined;
  }
}

export function SignIn({ message }: { message?: string }) {
  const [devToken, setDevToken] = useState<DevToken>();

  useEffect(() => {
    void fetchDevToken().then(setDevToken);
  }, []);

  return (
    <main class="page narrow" id="main">
      <h1>ModelService console</h1>
      <section class="panel" aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        {message && (
          <p class="alert" role="alert">
            {message}
          </p>
        )}
        <TokenForm submitLabel="Sign in" />
        {devToken && (
          <div class="dev-token">
            <p>
              This service runs in dev mode and can give this page a token for the dev workspace{" "}
              <strong>{devToken.workspaceId}</strong>.
            </p>
            <button type="button" onClick={() => session.signIn(devToken.token)}>
              Use dev workspace token
            </button>
          </div>
        )}
      </section>
    </main>
  );
}

import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import type { Model } from "../../gen/modelservice/v1/model_pb.js";
import { WatchEventType } from "../../gen/modelservice/v1/model_service_pb.js";
import { isOwnWrite } from "./own-writes.js";
import { modelService } from "./service-client.js";

export type LiveState = "connecting" | "live" | "reconnecting";

/** Several changes in a burst (a batch, an import) refresh the page once. */
const coalesceMs = 150;
const backoffMs = { first: 500, max: 10_000 };

/**
 * Follows WatchModels (Connect-Web server streaming) while signed in: `version`
 * moves whenever another client changed a model of the workspace, so the
 * views that read models read them again. Reconnects with jittered backoff
 * from its last resume token (after a server restart too), and starts over
 * when the token is too old.
 */
export function useLiveModels(token: string | undefined): { version: number; state: LiveState } {
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<LiveState>("connecting");
  useEffect(() => {
    if (!token) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Events of the burst: a model, or undefined for "read everything again". Whether a model was this tab's own
    // write is asked when the burst ends, not when its event arrives: the event may come before the write's answer.
    let burst: Array<Model | undefined> = [];
    const changed = (model?: Model) => {
      burst.push(model);
      clearTimeout(timer);
      timer = setTimeout(() => {
        const others = burst.some((m) => m === undefined || !isOwnWrite(m));
        burst = [];
        if (others) setVersion((v) => v + 1);
      }, coalesceMs);
    };
    void (async () => {
      let resumeToken = "";
      let attempt = 0;
      while (!abort.signal.aborted) {
        try {
          for await (const m of modelService.watchModels({ resumeToken }, { signal: abort.signal })) {
            if (m.type === WatchEventType.BOOKMARK || m.type === WatchEventType.SYNCED) {
              // Reconnected: what happened meanwhile is replayed, but a view may have missed its own refresh.
              if (attempt > 0) changed();
            } else changed(m.model);
            attempt = 0;
            if (m.resumeToken) resumeToken = m.resumeToken;
            setState("live");
          }
        } catch (e) {
          if (abort.signal.aborted) return;
          const code = ConnectError.from(e).code;
          if (code === Code.Unauthenticated) return;
          if (code === Code.OutOfRange) resumeToken = "";
        }
        setState("reconnecting");
        const delay = Math.random() * Math.min(backoffMs.max, backoffMs.first * 2 ** attempt++);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    })();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [token]);
  return { version, state };
}

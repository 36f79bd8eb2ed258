import { randomBytes } from "node:crypto";
import type { ChangeLog } from "../../storage/change-log.js";
import type { ModelStore } from "../../storage/model-store.js";
import { ModelWatch, type ModelWatchOptions, type WatchSendObserver } from "./model-watch.js";
import { ResumeTokens } from "./resume-token.js";
import { WatchHub, type WatchLimits, type WatchObserver } from "./watch-hub.js";

export interface WatchSettings extends WatchLimits, ModelWatchOptions {
  /** How long the change log keeps changes. */
  retentionMs: number;
}

export interface OpenWatch {
  watch: ModelWatch;
  /** Removes changes older than the retention from the log. */
  prune(): Promise<number>;
  /** Ends every watch with Unavailable. */
  close(): void;
}

/** WatchModels of a process: its hub on the change log, and resume tokens keyed by a secret every process of the database shares. */
export async function openWatch(store: ModelStore, changes: ChangeLog, settings: WatchSettings, observer: WatchObserver & WatchSendObserver): Promise<OpenWatch> {
  const key = await store.secret("watch-resume-token-key", () => randomBytes(32).toString("base64"));
  const hub = new WatchHub(changes, settings, observer);
  return {
    watch: new ModelWatch(hub, new ResumeTokens(Buffer.from(key, "base64")), settings, observer),
    prune: () => changes.prune(Date.now() - settings.retentionMs),
    close: () => hub.close(),
  };
}

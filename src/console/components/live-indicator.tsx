import "./live-indicator.css";
import type { LiveState } from "../live-models.js";

const labels: Record<LiveState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

/** Whether the page follows changes as they happen. */
export function LiveIndicator({ state }: { state: LiveState }) {
  return (
    <span class={`live live-${state}`} aria-live="polite" title={state === "live" ? "Changes by others appear as they happen" : "Not receiving changes right now"}>
      {labels[state]}
    </span>
  );
}

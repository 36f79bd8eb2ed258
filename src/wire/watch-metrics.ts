import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { WatchEventType } from "../../gen/modelservice/v1/model_service_pb.js";
import type { WatchSendObserver } from "../domain/watch/model-watch.js";
import type { WatchObserver } from "../domain/watch/watch-hub.js";

/** WatchModels metrics on the service's registry: open streams, messages sent by type, and commit-to-send lag. */
export function watchMetrics(registry: Registry, onPollError: (e: unknown) => void): WatchObserver & WatchSendObserver {
  const watchers = new Gauge({ name: "modelservice_watchers", help: "WatchModels streams open.", registers: [registry] });
  const events = new Counter({
    name: "modelservice_watch_events_total",
    help: "WatchModels messages sent, by type (added, modified, deleted, undeleted, purged, synced, bookmark).",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  const lag = new Histogram({
    name: "modelservice_watch_lag_seconds",
    help: "WatchModels: seconds from a change's commit to its event being handed to the stream.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const byType = new Map(
    Object.entries(WatchEventType)
      .filter((e): e is [string, number] => typeof e[1] === "number")
      .map(([name, value]) => [value, events.labels({ type: name.toLowerCase() })]),
  );
  return {
    watchersChanged: (count) => watchers.set(count),
    pollFailed: onPollError,
    sent(type, lagMs) {
      byType.get(type)?.inc();
      if (lagMs !== undefined) lag.observe(Math.max(0, lagMs) / 1000);
    },
  };
}

import { ConnectError } from "@connectrpc/connect";
import { WatchEventType, type WatchModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";
import { spawnServer, type ChildServer } from "./server-process.js";

/** A watch event, reduced to what tests compare, from any protocol. */
export interface SeenEvent {
  type: string;
  id?: string;
  name?: string;
  resumeToken: string;
  at: number;
}

export function seen(m: WatchModelsResponse): SeenEvent {
  return { type: WatchEventType[m.type], id: m.model?.metadata?.id, name: m.model?.metadata?.name, resumeToken: m.resumeToken, at: performance.now() };
}

/** Collects a stream's events as they arrive; `until` waits for a condition on them. */
export class EventLog {
  readonly events: SeenEvent[] = [];
  error?: unknown;
  ended = false;
  private waiters = new Set<() => void>();

  constructor(source: AsyncIterable<SeenEvent>) {
    void (async () => {
      try {
        for await (const e of source) {
          this.events.push(e);
          this.notify();
        }
      } catch (e) {
        this.error = e;
      } finally {
        this.ended = true;
        this.notify();
      }
    })();
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }

  /** Resolves when `check` holds; rejects after timeoutMs (a hang must fail the test, not stall it). */
  until(check: (events: SeenEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = () => {
        if (check(this.events)) {
          done();
          resolve();
        } else if (this.ended) {
          done();
          reject(new Error(`stream ended (${String(this.error)}) before the condition held: ${JSON.stringify(this.types())}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(this.types())}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(test);
      };
      this.waiters.add(test);
      test();
    });
  }

  async endedWith(timeoutMs = 5000): Promise<ConnectError | undefined> {
    await this.until(() => this.ended, timeoutMs).catch(() => undefined);
    if (!this.ended) throw new Error("stream did not end");
    return this.error === undefined ? undefined : ConnectError.from(this.error);
  }

  types(): string[] {
    return this.events.map((e) => (e.name ? `${e.type}:${e.name}` : e.type));
  }

  changes(): SeenEvent[] {
    return this.events.filter((e) => e.type !== "BOOKMARK" && e.type !== "SYNCED");
  }
}

/** Reads a text/event-stream response into its events (the data parsed as JSON). */
export async function* sseEvents(res: Response): AsyncIterable<{ event: string; id?: string; data: Record<string, unknown> }> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = new Map(block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]));
      yield { event: fields.get("event") ?? "message", id: fields.get("id"), data: JSON.parse(fields.get("data") ?? "null") as Record<string, unknown> };
    }
  }
}

/** SSE events as SeenEvents; an `error` event throws its status as a ConnectError-like error. */
export async function* sseSeen(res: Response): AsyncIterable<SeenEvent> {
  for await (const e of sseEvents(res)) {
    if (e.event === "error") throw Object.assign(new Error(String(e.data.message)), { code: e.data.code });
    const model = e.data.model as { metadata?: { id?: string; name?: string } } | undefined;
    yield {
      type: String(e.data.type).replace(/^WATCH_EVENT_TYPE_/, ""),
      id: model?.metadata?.id,
      name: model?.metadata?.name,
      resumeToken: String(e.data.resumeToken ?? ""),
      at: performance.now(),
    };
  }
}

export async function* fromStream(stream: AsyncIterable<WatchModelsResponse>): AsyncIterable<SeenEvent> {
  for await (const m of stream) yield seen(m);
}

/** The server as a child process (src/main.ts through tsx) on the given database file, with the test services' JWT secret. */
export function startServerOn(databasePath: string, dataDir: string, env: Record<string, string> = {}, port?: number): Promise<ChildServer> {
  return spawnServer({
    env: { MODELSERVICE_DATA_DIR: dataDir, MODELSERVICE_DB: databasePath, MODELSERVICE_SHUTDOWN_GRACE_MS: "1000", ...env },
    port,
    readyWithinMs: 20_000,
  });
}

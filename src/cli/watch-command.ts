import { toJsonString, type Message, type Registry } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import { Option } from "commander";
import { WatchEventType, WatchModelsResponseSchema, type WatchModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";
import type { OutputFormat } from "./output.js";

/** `models watch --since TOKEN`: the resume token under the name a user looks for. */
export const sinceOption = new Option("--since <token>", "Resume after this resume token (printed with every event); same as --resume-token.");

/** One line per message: its JSON, or a table row (type, id, name, resume token). */
function line(output: OutputFormat, m: WatchModelsResponse, registry: Registry): string {
  if (output !== "table") return `${toJsonString(WatchModelsResponseSchema, m, { registry })}\n`;
  const type = WatchEventType[m.type];
  return [type.padEnd(10), (m.model?.metadata?.id ?? "-").padEnd(32), (m.model?.metadata?.name ?? "-").padEnd(24), m.resumeToken || "-"].join(" ") + "\n";
}

/**
 * WatchModels on the command line: prints one event per line until
 * interrupted; Ctrl-C (SIGINT) or SIGTERM end the stream and the command
 * exits 0.
 */
export async function runWatch(
  call: (req: Message, options: CallOptions) => AsyncIterable<Message>,
  request: Message,
  options: CallOptions,
  output: OutputFormat,
  registry: Registry,
  write: (text: string) => Promise<void>,
): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    if (output === "table") await write(`${"TYPE".padEnd(10)} ${"ID".padEnd(32)} ${"NAME".padEnd(24)} RESUME TOKEN\n`);
    for await (const m of call(request, { ...options, signal: abort.signal })) await write(line(output, m as WatchModelsResponse, registry));
  } catch (e) {
    if (abort.signal.aborted && ConnectError.from(e).code === Code.Canceled) return;
    throw e;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

import { fromJson, type DescMessage, type DescMethod, type Message } from "@bufbuild/protobuf";
import { createClient, type CallOptions } from "@connectrpc/connect";
import { ListModelsRequestSchema, ModelService, type ImportModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";
import type { JsonObject } from "./build-request.js";
import { explainDelete, reportImport } from "./call-outcomes.js";
import type { RpcCommand } from "./command-table.js";
import { withFlagHints, type FieldFlag } from "./flag-hints.js";
import { format } from "./output.js";
import { progress, spinner } from "./progress.js";
import type { CallContext } from "./rpc-commands.js";
import { registry } from "./type-registry.js";
import { runWatch } from "./watch-command.js";

type UnaryFn = (req: Message, options: CallOptions) => Promise<Message>;
type StreamFn = (req: Message, options: CallOptions) => AsyncIterable<Message & { data: Uint8Array }>;

/** True for list methods with a cursor in and a pagination out: `--all` follows every page. */
export function isPaged(method: DescMethod): boolean {
  return method.input.field.cursor !== undefined && method.output.field.pagination !== undefined && method.output.field.items !== undefined;
}

/** A watch: a stream of messages that each carry a resume token (WatchModels). */
export function isWatch(method: DescMethod): boolean {
  return method.input.field.resumeToken !== undefined && method.output.field.resumeToken !== undefined;
}

/** Counts CSV records in a chunk, honouring quotes. */
function csvRecords(text: string, state: { quoted: boolean }): number {
  let n = 0;
  for (const ch of text) {
    if (ch === '"') state.quoted = !state.quoted;
    else if (ch === "\n" && !state.quoted) n++;
  }
  return n;
}

async function write(text: string | Uint8Array): Promise<void> {
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve) => process.stdout.once("drain", resolve));
}

/** The response on stdout; paging and notes on stderr, so that stdout pipes cleanly. */
async function print(ctx: CallContext, schema: DescMessage, message: Message): Promise<void> {
  const printed = format(ctx.output, schema, message, registry, process.stdout.isTTY ? process.stdout.columns : undefined);
  await write(printed.stdout);
  process.stderr.write(printed.stderr);
}

export async function runRpc(rpc: RpcCommand, request: Message, ctx: CallContext, fieldFlags: FieldFlag[]): Promise<void> {
  const client = createClient(ModelService, ctx.transport) as unknown as Record<string, UnaryFn | StreamFn>;
  const options: CallOptions = { headers: ctx.headers };
  const { method } = rpc;
  if (method.methodKind === "server_streaming" && isWatch(method)) {
    return runWatch(client[method.localName] as StreamFn, request, options, ctx.output, registry, write);
  }
  if (method.methodKind === "server_streaming") {
    // ExportModels: the CSV goes to stdout as it arrives; a TTY shows rows against the list total.
    const bar = progress("exporting", "rows");
    if (process.stderr.isTTY) {
      const listFilters = fromJson(ListModelsRequestSchema, { ...(toPlain(request) as JsonObject), limit: 1 }, { ignoreUnknownFields: true });
      const first = (await (client.listModels as UnaryFn)(listFilters, options)) as unknown as { pagination?: { total?: number } };
      bar.setTotal(first.pagination?.total ?? 0);
    }
    const state = { quoted: false };
    let header = true;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of (client[method.localName] as StreamFn)(request, options)) {
        let rows = csvRecords(decoder.decode(chunk.data, { stream: true }), state);
        if (header && rows > 0) {
          rows--;
          header = false;
        }
        bar.increment(rows);
        await write(chunk.data);
      }
    } finally {
      bar.stop();
    }
    return;
  }
  const call = client[method.localName] as UnaryFn;
  if (ctx.all && isPaged(method)) {
    const bar = progress("listing", method.output.field.items!.name);
    const pages: Message[] = [];
    let req = request as Message & { cursor: string };
    try {
      for (;;) {
        const page = (await call(req, options)) as Message & { items: Message[]; pagination?: { nextCursor: string; total?: number } };
        if (pages.length === 0) bar.setTotal(page.pagination?.total ?? page.items.length);
        bar.increment(page.items.length);
        pages.push(page);
        const next = page.pagination?.nextCursor ?? "";
        if (next === "") break;
        req = { ...req, cursor: next };
      }
    } finally {
      bar.stop();
    }
    const first = pages[0] as Message & { items: Message[]; pagination?: { nextCursor: string } };
    const merged = { ...first, items: pages.flatMap((p) => (p as unknown as { items: Message[] }).items) };
    if (first.pagination) merged.pagination = { ...first.pagination, nextCursor: "" };
    await print(ctx, method.output, merged);
    return;
  }
  const importing = method.input.field.csv !== undefined;
  let wait: { stop(): void } | undefined;
  if (importing) {
    // ImportModels is one call that reports nothing until its answer: a spinner with the row count.
    const text = Buffer.from((request as unknown as { csv?: { data: Uint8Array } }).csv?.data ?? []).toString("utf8");
    const rows = Math.max(0, csvRecords(text.endsWith("\n") ? text : text + "\n", { quoted: false }) - 1);
    wait = spinner(`importing ${rows} rows, waiting for the server`);
  }
  let response: Message;
  try {
    response = await call(request, options);
  } catch (e) {
    throw withFlagHints(await explainDelete(rpc, request, ctx, e), fieldFlags);
  } finally {
    wait?.stop();
  }
  await print(ctx, method.output, response);
  if (importing) reportImport(response as ImportModelsResponse);
}

function toPlain(message: Message): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(message)) if (k !== "$typeName" && k !== "$unknown") out[k] = v;
  return out;
}

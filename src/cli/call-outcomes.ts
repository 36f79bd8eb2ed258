import { create, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions } from "@connectrpc/connect";
import { ModelService, type ImportModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";
import { rpcCommands, type RpcCommand } from "./command-table.js";
import { exitCodes, RowsRefusedError } from "./errors.js";
import type { CallContext } from "./rpc-commands.js";

/*
 * What an answer means beyond its body: the summary of an import (and its
 * exit code when rows were refused), and a delete of what is already deleted.
 */

/** The summary line of an import on stderr; RowsRefusedError (exit 5) when any row was refused. */
export function reportImport(r: ImportModelsResponse): void {
  const refused = new Set(r.errors.map((e) => e.row)).size;
  const total = r.createdCount + r.updatedCount + r.unchangedCount + refused;
  const counts = `created ${r.createdCount}, updated ${r.updatedCount}, unchanged ${r.unchangedCount}, refused ${refused}`;
  process.stderr.write(r.dryRun ? `dry run of ${total} rows, nothing written: would have ${counts}\n` : `imported ${total} rows: ${counts}\n`);
  if (r.unmatchedIdCount > 0) {
    process.stderr.write(
      `note: ${r.unmatchedIdCount} of the created rows carry the id of no model of this workspace (an export of another workspace, or models deleted since): they ${r.dryRun ? "would be" : "are"} new models with new ids\n`,
    );
  }
  if (refused > 0) throw new RowsRefusedError(`${refused} of ${total} rows refused, see "errors" in the output (exit ${exitCodes.rowsRefused})`);
}

type UnaryFn = (req: Message, options: CallOptions) => Promise<Message>;

/**
 * A delete answered NotFound: when the model is there but deleted, say so in
 * those words (and how to restore it, where the group can) rather than "not found".
 */
export async function explainDelete(rpc: RpcCommand, request: Message, ctx: CallContext, error: unknown): Promise<unknown> {
  if (rpc.verb !== "delete" || !(error instanceof ConnectError) || error.code !== Code.NotFound) return error;
  const verbs = rpcCommands().filter((r) => r.group === rpc.group);
  const retrieve = verbs.find((r) => r.verb === "retrieve");
  if (!retrieve) return error;
  const client = createClient(ModelService, ctx.transport) as unknown as Record<string, UnaryFn>;
  const { id, workspaceId } = request as unknown as { id: string; workspaceId?: string };
  const get = create(retrieve.method.input, retrieve.method.input.field.workspaceId ? { id, workspaceId } : { id });
  let model: { metadata?: { deleteTime?: unknown } };
  try {
    model = (await client[retrieve.method.localName]!(get, { headers: ctx.headers })) as typeof model;
  } catch {
    return error;
  }
  if (model.metadata?.deleteTime === undefined) return error;
  const restore = verbs.some((r) => r.verb === "undelete") ? `; \`modelservice ${rpc.group} undelete ${id}\` restores it` : "";
  return new ConnectError(`model "${id}" is already deleted${restore}`, Code.NotFound, error.metadata, [], error);
}

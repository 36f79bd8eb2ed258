import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import type { Message } from "@bufbuild/protobuf";
import type { ImportModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";
import { exitCodes, RowsRefusedError } from "./errors.js";

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
export async function explainDeleteNotFound(
  error: unknown,
  id: string,
  retrieve: UnaryFn,
  request: Message,
  options: CallOptions,
  undelete: string | undefined,
): Promise<unknown> {
  if (!(error instanceof ConnectError) || error.code !== Code.NotFound) return error;
  let model: { metadata?: { deleteTime?: unknown } };
  try {
    model = (await retrieve(request, options)) as typeof model;
  } catch {
    return error;
  }
  if (model.metadata?.deleteTime === undefined) return error;
  const restore = undelete ? `; \`${undelete} ${id}\` restores it` : "";
  return new ConnectError(`model "${id}" is already deleted${restore}`, Code.NotFound, error.metadata, [], error);
}

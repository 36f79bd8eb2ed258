import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { ModelSchema } from "../../../gen/modelservice/v1/model_pb.js";
import type { FieldChangeRecord, ModelRecord } from "../../storage/model-store.js";
import { toModelMessage } from "./model-message.js";

/** Fields every write changes: recording them would say nothing. */
const bookkeeping = new Set(["metadata.updated_at", "metadata.etag", "metadata.can_edit"]);
const noScopes: ReadonlySet<string> = new Set();

function flatten(value: JsonValue | undefined, path: string, out: Map<string, string>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && path.split(".").length < 2) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, path === "" ? key : `${path}.${key}`, out);
    return;
  }
  if (value !== undefined && !bookkeeping.has(path)) out.set(path, JSON.stringify(value));
}

function fields(record: ModelRecord | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (record) flatten(toJson(ModelSchema, toModelMessage(record, noScopes), { useProtoFieldName: true }), "", out);
  return out;
}

/**
 * The fields that differ between two versions of a model, as update-mask
 * paths with JSON values. Built from the API resource, which carries no
 * secret: credentials show only as their fingerprint and flags.
 */
export function fieldChanges(before: ModelRecord | undefined, after: ModelRecord): FieldChangeRecord[] {
  const old = fields(before);
  const now = fields(after);
  const paths = [...new Set([...old.keys(), ...now.keys()])].sort();
  return paths
    .filter((p) => old.get(p) !== now.get(p))
    .map((field) => ({ field, oldValue: old.get(field), newValue: now.get(field) }));
}

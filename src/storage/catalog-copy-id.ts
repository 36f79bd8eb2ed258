import { createHash } from "node:crypto";

/** Crockford's base32 alphabet, as in ULIDs and so in model ids. */
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Characters of a copy id from each half: 13 base32 characters, 65 bits of a SHA-256. */
const halfLength = 13;

function half(kind: string, key: string): string {
  const digest = createHash("sha256").update(`modelservice catalog copy\0${kind}\0${key}`).digest();
  let text = "";
  for (let i = 0; i < halfLength; i++) {
    // Five bits at bit offset 5 * i, read from the two bytes that hold them.
    const bit = 5 * i;
    const pair = (digest[bit >> 3]! << 8) | digest[(bit >> 3) + 1]!;
    text += crockford[(pair >> (11 - (bit & 7))) & 31];
  }
  return text;
}

/** The first half of every catalog copy id in a workspace: "model_" and 13 characters from the workspace id. */
export function copyIdPrefix(workspaceId: string): string {
  return "model_" + half("workspace", workspaceId);
}

/** The second half of every copy id of a system model: 13 characters from its id. Distinct per system model (checked on insert). */
export function copyIdSuffix(systemModelId: string): string {
  return half("system", systemModelId);
}

/**
 * The id of a workspace's copy of a system model, whether the copy is
 * virtual or a row: derived, so the same in every process and after every
 * restart, and a valid model id ("model_" and 26 Crockford base32 characters).
 */
export function catalogCopyId(workspaceId: string, systemModelId: string): string {
  return copyIdPrefix(workspaceId) + copyIdSuffix(systemModelId);
}

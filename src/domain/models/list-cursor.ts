import { createHmac, timingSafeEqual } from "node:crypto";
import type { ListPosition } from "../../storage/model-store.js";

/**
 * Opaque list cursors: the position of the last item served plus a digest of
 * the filters they were made for, signed with HMAC-SHA256 so that a client
 * can neither forge a position nor move a cursor to other filters.
 */
export class ListCursors {
  constructor(private readonly key: Buffer) {}

  /** A digest of the filters (every request parameter except cursor and limit). */
  filterDigest(filters: unknown): string {
    return createHmac("sha256", this.key).update(JSON.stringify(filters)).digest("base64url").slice(0, 22);
  }

  encode(position: ListPosition, filterDigest: string): string {
    const payload = Buffer.from(JSON.stringify([position.values, position.id, filterDigest])).toString("base64url");
    return `${payload}.${this.sign(payload)}`;
  }

  /** The position of a cursor, or an explanation of why it cannot be used with these filters. */
  decode(cursor: string, filterDigest: string): ListPosition | string {
    const [payload, signature, extra] = cursor.split(".");
    if (!payload || !signature || extra !== undefined) return "malformed cursor";
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "cursor was not issued by this service";
    const [values, id, digest] = JSON.parse(Buffer.from(payload, "base64url").toString()) as [ListPosition["values"], string, string];
    if (digest !== filterDigest) return "cursor was issued for other filters";
    return { values, id };
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.key).update("cursor:" + payload).digest("base64url");
  }
}

import { createHmac, timingSafeEqual } from "node:crypto";

const checkBytes = 8;

/**
 * Resume tokens of WatchModels: a change-log position with a keyed check, as
 * base64url. The check tells a token of this database from garbage or a
 * token of another deployment; the position is the only thing it carries.
 */
export class ResumeTokens {
  constructor(private readonly key: Uint8Array) {}

  private check(seq: Buffer): Buffer {
    return createHmac("sha256", this.key).update(seq).digest().subarray(0, checkBytes);
  }

  encode(seq: number): string {
    const position = Buffer.alloc(8);
    position.writeBigUInt64BE(BigInt(seq));
    return Buffer.concat([position, this.check(position)]).toString("base64url");
  }

  /** The position of a token, or undefined when it is not one of this database's. */
  decode(token: string): number | undefined {
    const bytes = Buffer.from(token, "base64url");
    if (bytes.length !== 8 + checkBytes || bytes.toString("base64url") !== token) return undefined;
    const position = bytes.subarray(0, 8);
    if (!timingSafeEqual(this.check(position), bytes.subarray(8))) return undefined;
    const seq = position.readBigUInt64BE();
    return seq > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(seq);
  }
}

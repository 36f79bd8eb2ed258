import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { principalKey } from "../principal-context.js";

export interface TokenBucketOptions {
  /** Tokens added per second (sustained calls per second). */
  rps: number;
  /** Bucket capacity: calls allowed at once after a quiet period. */
  burst: number;
  /** Buckets kept at most; the least recently used goes first (it is then as good as full again). */
  maxBuckets?: number;
  /** Milliseconds clock; tests pass a fake one. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * Token buckets by key, in a bounded map: each key gets `burst` tokens,
 * refilled at `rps` per second. A bucket that has refilled to full is the
 * same as no bucket, so evicting the least recently used one is harmless
 * for keys that are quiet, and bounds memory for many keys.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rps: number;
  private readonly burst: number;
  private readonly maxBuckets: number;
  private readonly now: () => number;

  constructor(options: TokenBucketOptions) {
    if (!(options.rps > 0) || !Number.isFinite(options.rps)) throw new RangeError("rps must be a positive number");
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) throw new RangeError("burst must be at least 1");
    this.rps = options.rps;
    this.burst = options.burst;
    this.maxBuckets = Math.max(1, options.maxBuckets ?? 10_000);
    this.now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token for the key: 0 when one was there, else the milliseconds until one will be. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key);
    let tokens = this.burst;
    if (bucket) {
      tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.rps);
      // Re-inserting keeps the Map in least-recently-used order.
      this.buckets.delete(key);
    }
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    this.buckets.set(key, { tokens, updated: now });
    if (this.buckets.size > this.maxBuckets) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return allowed ? 0 : Math.ceil(((1 - tokens) / this.rps) * 1000);
  }
}

export interface RateLimitOptions extends TokenBucketOptions {
  /** Called once per refused call (the rejection counter). */
  onLimited?: () => void;
}

/** The ResourceExhausted error of a refused call: RetryInfo detail plus a retry-after header (seconds). */
export function rateLimitedError(retryMs: number): ConnectError {
  const seconds = Math.floor(retryMs / 1000);
  const retryDelay = create(DurationSchema, { seconds: BigInt(seconds), nanos: (retryMs % 1000) * 1_000_000 });
  return new ConnectError(
    `rate limit exceeded: retry in ${retryMs} ms`,
    Code.ResourceExhausted,
    { "retry-after": String(Math.max(1, Math.ceil(retryMs / 1000))) },
    [{ desc: RetryInfoSchema, value: { retryDelay } }],
  );
}

/**
 * Per-token rate limit: a token bucket per verified token, keyed by the
 * identity auth verified (sub, workspace and the token's jti or claims
 * digest), not by the token's text: re-encoding a token (base64url spare
 * bits) gives no fresh bucket. It runs after the auth interceptor, so only
 * verified tokens reach it — an invalid or missing token is refused by auth
 * and never creates a bucket — and the bucket map is bounded besides
 * (maxBuckets, least recently used evicted).
 */
export function rateLimitInterceptor(options: RateLimitOptions): Interceptor {
  const buckets = new TokenBuckets(options);
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (principal) {
      const retryMs = buckets.take(JSON.stringify([principal.profileId, principal.workspaceId, principal.tokenId]));
      if (retryMs > 0) {
        options.onLimited?.();
        throw rateLimitedError(retryMs);
      }
    }
    return next(req);
  };
}

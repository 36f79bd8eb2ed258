import { ByteBoundedLru } from "../../storage/byte-bounded-lru.js";

interface Entry {
  stamp: string;
  value: unknown;
}

/**
 * Answers of reads kept while the database stays unchanged. Every entry
 * carries the store's change stamp of the moment it was read; any commit, by
 * this process or another on the same database, changes the stamp and so
 * retires every entry at once. Coarse, and therefore simple to trust: a
 * registry is read far more often than it is written, and every LLM call of
 * the platform resolves its model here.
 *
 * Entries weigh the bytes of their key and of their answer, and the least
 * recently used go first once they pass `maxBytes`: memory stays bounded
 * whatever mix and size of calls arrives.
 */
export class ReadCache {
  private readonly entries: ByteBoundedLru<Entry>;

  constructor(maxBytes: number) {
    this.entries = new ByteBoundedLru(maxBytes);
  }

  /** The bytes the kept answers and their keys weigh together. */
  get bytes(): number {
    return this.entries.bytes;
  }

  /** How many answers are kept. */
  get size(): number {
    return this.entries.size;
  }

  /** The cached answer for `key` read at `stamp`, or `read()`'s, kept for the next caller; `weigh` tells its bytes. */
  async through<T>(key: string, stamp: string, read: () => Promise<T>, weigh: (value: T) => number): Promise<T> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      if (hit.stamp === stamp) return hit.value as T;
      this.entries.delete(key);
    }
    const value = await read();
    this.entries.set(key, { stamp, value }, weigh(value));
    return value;
  }
}

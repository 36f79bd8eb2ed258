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
 * Least recently used entries go first once `maxEntries` is reached.
 */
export class ReadCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  /** The cached answer for `key` read at `stamp`, or `read()`'s, kept for the next caller. */
  async through<T>(key: string, stamp: string, read: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      if (hit.stamp === stamp) {
        this.entries.set(key, hit);
        return hit.value as T;
      }
    }
    const value = await read();
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { stamp, value });
    return value;
  }
}

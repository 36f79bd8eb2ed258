interface Entry {
  stamp: string;
  value: unknown;
  weight: number;
}

/**
 * Answers of reads kept while the database stays unchanged. Every entry
 * carries the store's change stamp of the moment it was read; any commit, by
 * this process or another on the same database, changes the stamp and so
 * retires every entry at once. Coarse, and therefore simple to trust: a
 * registry is read far more often than it is written, and every LLM call of
 * the platform resolves its model here.
 *
 * Entries weigh what they hold (a model 1, a list page its models), and the
 * least recently used go first once the weights pass `maxWeight`: memory
 * stays bounded whatever mix of calls arrives.
 */
export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  private weight = 0;

  constructor(private readonly maxWeight: number) {}

  /** The cached answer for `key` read at `stamp`, or `read()`'s, kept for the next caller. */
  async through<T>(key: string, stamp: string, read: () => Promise<T>, weigh: (value: T) => number = () => 1): Promise<T> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.remove(key, hit);
      if (hit.stamp === stamp) {
        this.add(key, hit);
        return hit.value as T;
      }
    }
    const value = await read();
    const entry = { stamp, value, weight: Math.max(1, weigh(value)) };
    while (this.entries.size > 0 && this.weight + entry.weight > this.maxWeight) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.remove(oldestKey, oldest);
    }
    this.add(key, entry);
    return value;
  }

  private add(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    this.weight += entry.weight;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.weight -= entry.weight;
  }
}

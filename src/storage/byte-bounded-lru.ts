interface Entry<V> {
  value: V;
  bytes: number;
}

/**
 * A least-recently-used map bounded by bytes, not by entries: each entry
 * weighs the bytes its caller says the value takes plus its key's, and the
 * least recently used go once the total would pass `maxBytes`. An entry
 * heavier than the whole bound is not kept at all, so no single request,
 * whatever its size, can push the map past it.
 */
export class ByteBoundedLru<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private total = 0;

  constructor(readonly maxBytes: number) {}

  /** The bytes the entries weigh together. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value kept under `key`, which becomes the most recently used; undefined when none is. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // Re-inserting keeps the Map in least-recently-used order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` under `key`, weighing `valueBytes` plus two bytes a key character; false when it alone passes the bound. */
  set(key: string, value: V, valueBytes: number): boolean {
    this.delete(key);
    const bytes = Math.max(0, valueBytes) + key.length * 2;
    if (bytes > this.maxBytes) return false;
    while (this.total + bytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    this.entries.set(key, { value, bytes });
    this.total += bytes;
    return true;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.total -= entry.bytes;
  }
}

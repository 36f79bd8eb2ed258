export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const fixed = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Measurements by cell, over rounds; medians per cell. */
export class Samples<Key extends string, R> {
  private readonly byKey = new Map<Key, R[]>();

  add(key: Key, result: R): void {
    this.byKey.set(key, [...(this.byKey.get(key) ?? []), result]);
  }

  median(key: Key, value: (r: R) => number): number {
    return median(this.byKey.get(key)!.map(value));
  }
}

/** The servers of a round in turn; which goes first alternates, so that drift of the machine favours neither. */
export function alternating<T>(round: number, items: T[]): T[] {
  return round % 2 === 0 ? items : [...items].reverse();
}

/** The nearest-rank p-th percentile (0 < p <= 100) of values. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

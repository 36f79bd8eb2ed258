import { describe, expect, it } from "vitest";
import { ReadCache } from "../src/domain/models/read-cache.js";

describe("ReadCache", () => {
  const reader = () => {
    let reads = 0;
    return { read: async () => `answer ${++reads}`, reads: () => reads };
  };

  const eight = () => 8;

  it("answers from the cache while the stamp holds, reads again once it moves", async () => {
    const cache = new ReadCache(100);
    const r = reader();
    expect(await cache.through("k", "s1", r.read, eight)).toBe("answer 1");
    expect(await cache.through("k", "s1", r.read, eight)).toBe("answer 1");
    expect(await cache.through("k", "s2", r.read, eight)).toBe("answer 2");
    expect(await cache.through("k", "s2", r.read, eight)).toBe("answer 2");
    expect(r.reads()).toBe(2);
    expect(cache.size).toBe(1);
  });

  it("keeps the bytes of keys and answers under the bound, dropping the least recently used first", async () => {
    const cache = new ReadCache(30);
    const r = reader();
    // Each one-character key adds 2 bytes: a and b weigh 10 each.
    await cache.through("a", "s", r.read, eight);
    await cache.through("b", "s", r.read, eight);
    await cache.through("a", "s", r.read, eight); // a is now the most recent
    await cache.through("c", "s", r.read, () => 13); // 10 + 10 + 15 > 30: b goes
    expect(r.reads()).toBe(3);
    expect(cache.bytes).toBe(25);
    await cache.through("a", "s", r.read, eight);
    expect(r.reads()).toBe(3);
    await cache.through("b", "s", r.read, eight);
    expect(r.reads()).toBe(4);
    expect(cache.bytes).toBeLessThanOrEqual(30);
  });

  it("never keeps an answer heavier than the whole bound, nor evicts for it", async () => {
    const cache = new ReadCache(20);
    const r = reader();
    await cache.through("a", "s", r.read, eight);
    await cache.through("huge", "s", r.read, () => 50);
    await cache.through("huge", "s", r.read, () => 50);
    expect(r.reads()).toBe(3);
    await cache.through("a", "s", r.read, eight);
    expect(r.reads()).toBe(3);
    expect(cache.bytes).toBe(10);
  });

  it("does not keep a failed read", async () => {
    const cache = new ReadCache(10);
    await expect(cache.through("k", "s", () => Promise.reject(new Error("not found")), eight)).rejects.toThrow("not found");
    expect(await cache.through("k", "s", async () => "found", eight)).toBe("found");
  });
});

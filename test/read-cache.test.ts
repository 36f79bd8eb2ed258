import { describe, expect, it } from "vitest";
import { ReadCache } from "../src/domain/models/read-cache.js";

describe("ReadCache", () => {
  const reader = () => {
    let reads = 0;
    return { read: async () => `answer ${++reads}`, reads: () => reads };
  };

  it("answers from the cache while the stamp holds, reads again once it moves", async () => {
    const cache = new ReadCache(10);
    const r = reader();
    expect(await cache.through("k", "s1", r.read)).toBe("answer 1");
    expect(await cache.through("k", "s1", r.read)).toBe("answer 1");
    expect(await cache.through("k", "s2", r.read)).toBe("answer 2");
    expect(await cache.through("k", "s2", r.read)).toBe("answer 2");
    expect(r.reads()).toBe(2);
  });

  it("keeps the weights under the bound, dropping the least recently used first", async () => {
    const cache = new ReadCache(3);
    const r = reader();
    await cache.through("a", "s", r.read);
    await cache.through("b", "s", r.read);
    await cache.through("a", "s", r.read); // a is now the most recent
    await cache.through("big", "s", r.read, () => 2); // 1 + 1 + 2 > 3: b goes
    expect(r.reads()).toBe(3);
    await cache.through("a", "s", r.read);
    expect(r.reads()).toBe(3);
    await cache.through("b", "s", r.read);
    expect(r.reads()).toBe(4);
  });

  it("an entry heavier than the bound is kept alone", async () => {
    const cache = new ReadCache(2);
    const r = reader();
    await cache.through("a", "s", r.read);
    await cache.through("huge", "s", r.read, () => 50);
    await cache.through("huge", "s", r.read, () => 50);
    expect(r.reads()).toBe(2);
    await cache.through("a", "s", r.read);
    expect(r.reads()).toBe(3);
  });

  it("does not keep a failed read", async () => {
    const cache = new ReadCache(10);
    await expect(cache.through("k", "s", () => Promise.reject(new Error("not found")))).rejects.toThrow("not found");
    expect(await cache.through("k", "s", async () => "found")).toBe("found");
  });
});

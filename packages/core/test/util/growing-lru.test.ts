import { describe, expect, it } from "vitest";
import { growingLru } from "../../src/util/growing-lru.js";

describe("growingLru", () => {
  it("keeps at most maxEntries, dropping the least recently used", () => {
    const lru = growingLru<string, number>(3);
    for (const k of ["a", "b", "c"]) lru.set(k, k.charCodeAt(0));
    expect(lru.get("a")).toBe(97); // a is now the most recent
    lru.set("d", 100);
    expect([...lru.keys()].sort()).toEqual(["a", "c", "d"]);
    expect(lru.size).toBe(3);
    lru.set("c", 1); // replacing counts once
    expect(lru.size).toBe(3);
    expect(lru.get("c")).toBe(1);
  });

  it("holds many entries when allowed", () => {
    const lru = growingLru<number, number>(200_000);
    for (let i = 0; i < 50_000; i++) lru.set(i, i);
    expect(lru.size).toBe(50_000);
    expect(lru.get(0)).toBe(0);
  });
});

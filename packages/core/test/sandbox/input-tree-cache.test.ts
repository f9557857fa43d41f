import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputTreeCache } from "../../src/sandbox/kit/input-tree-cache.js";
import { tempDir } from "../../../../test/support/sandbox-toolchain.js";

const tmp = tempDir("reprise-trees-");
afterAll(() => tmp.remove());

/** Polls `condition` (bounded): an evicted tree is removed in the background. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("InputTreeCache", () => {
  it("builds a tree once per key, reuses it, and never removes one a job still uses", async () => {
    const dir = join(tmp.dir, "cache");
    const cache = new InputTreeCache(dir, 1);
    let builds = 0;
    const build = (text: string) => (d: string) => {
      builds++;
      writeFileSync(join(d, "f"), text);
    };
    const one = cache.acquire("k1", build("one"));
    expect(readFileSync(join(one.path, "f"), "utf8")).toBe("one");
    const again = cache.acquire("k1", build("never"));
    expect(again.path).toBe(one.path);
    expect([builds, cache.hits, cache.misses]).toEqual([1, 1, 1]);
    // Over the bound while k1 is in use: k1 stays, the new tree is made beside it.
    const two = cache.acquire("k2", build("two"));
    expect(cache.size).toBe(2);
    expect(existsSync(one.path)).toBe(true);
    one.release();
    again.release();
    again.release(); // twice is once
    // k1 is free now and least recently used: the next acquire or release trims it.
    two.release();
    await until(() => !existsSync(one.path) && cache.listing().length === 1, "k1 is removed");
    expect(cache.listing()).toEqual(["k2"]);
    expect(readFileSync(join(two.path, "f"), "utf8")).toBe("two");
  });

  it("keeps nothing of a tree whose building failed, and starts empty", () => {
    const dir = join(tmp.dir, "failing");
    const first = new InputTreeCache(dir, 4);
    first.acquire("old", (d) => writeFileSync(join(d, "f"), "x")).release();
    const cache = new InputTreeCache(dir, 4);
    expect(cache.listing(), "a tree of an earlier process is not trusted").toEqual([]);
    expect(() =>
      cache.acquire("bad", (d) => {
        writeFileSync(join(d, "half"), "");
        throw new Error("no space");
      }),
    ).toThrow("no space");
    expect(cache.listing()).toEqual([]);
    expect(cache.size).toBe(0);
  });
});

import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSmallTree, smallTreeUsage } from "../../src/sandbox/kit/small-trees.js";
import { tempDir } from "../../../../test/support/sandbox-toolchain.js";

const tmp = tempDir("reprise-small-trees-");
afterAll(() => tmp.remove());

/** A job's scratch as a builder leaves it: an object deep in its writable directory, its streams, a link out. */
function scratch(name: string, extraFiles = 0): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, "w/0/CMakeFiles/uv.dir/src"), { recursive: true });
  writeFileSync(join(dir, "w/0/CMakeFiles/uv.dir/src/fs.c.o"), Buffer.alloc(1000));
  writeFileSync(join(dir, "stdout"), "12345");
  writeFileSync(join(dir, "status"), "");
  symlinkSync(tmp.dir, join(dir, "w/0/out")); // never followed: the link itself goes
  for (let i = 0; i < extraFiles; i++) writeFileSync(join(dir, `f${i}`), "x");
  return dir;
}

describe("small trees", () => {
  it("sums the regular files' sizes without following links, and removes the whole tree", () => {
    const dir = scratch("one");
    expect(smallTreeUsage(dir)).toBe(1005);
    expect(removeSmallTree(dir)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(tmp.dir), "the link's target is untouched").toBe(true);
  });

  it("leaves a tree past the bound alone (the caller's asynchronous fallback takes it)", () => {
    const dir = scratch("many", 40);
    expect(smallTreeUsage(dir, 30)).toBeUndefined();
    expect(removeSmallTree(dir, 30)).toBe(false);
    expect(existsSync(join(dir, "w/0/CMakeFiles/uv.dir/src/fs.c.o"))).toBe(true);
    expect(smallTreeUsage(dir, 100)).toBe(1045);
    expect(removeSmallTree(dir, 100)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it("says undefined or false for a directory that is not there", () => {
    expect(smallTreeUsage(join(tmp.dir, "none"))).toBeUndefined();
    expect(removeSmallTree(join(tmp.dir, "none"))).toBe(false);
  });
});

import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolchainView } from "../../src/sandbox/kit/toolchain-view.js";
import { tempDir } from "../../../../test/support/sandbox-toolchain.js";

const tmp = tempDir("reprise-toolchain-view-");
afterAll(() => tmp.remove());

describe("ToolchainView.resolve", () => {
  it("follows the toolchain's links and applies .. to the physical path; a remembered answer reports the directories it stepped out of again", () => {
    const root = join(tmp.dir, "root");
    mkdirSync(join(root, "usr/lib/gcc"), { recursive: true });
    symlinkSync("usr/lib", join(root, "lib"));
    writeFileSync(join(root, "usr/lib/gcc/cc1"), "");
    const view = new ToolchainView(root);
    const path = "/lib/gcc/../gcc/cc1";
    for (const round of ["first", "remembered"]) {
      const traversed = new Set<string>();
      expect(view.resolve(path, false, traversed), round).toBe("/usr/lib/gcc/cc1");
      expect([...traversed], round).toEqual(["/usr/lib/gcc"]);
    }
    expect(view.resolve(path), "without a set to fill").toBe("/usr/lib/gcc/cc1");
    // A path outside the toolchain is kept as it is; `..` out of the job's own directories is reported too.
    const traversed = new Set<string>();
    expect(view.resolve("/home/p/build/../src/a.c", false, traversed)).toBe("/home/p/src/a.c");
    expect([...traversed]).toEqual(["/home/p/build"]);
    const again = new Set<string>();
    expect(view.resolve("/home/p/build/../src/a.c", false, again)).toBe("/home/p/src/a.c");
    expect([...again]).toEqual(["/home/p/build"]);
    expect(view.resolve("/lib/gcc", true), "keepLast: the last link is not followed").toBe("/usr/lib/gcc");
    expect(view.resolve("/lib", true)).toBe("/lib");
  });
});

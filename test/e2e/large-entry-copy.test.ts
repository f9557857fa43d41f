import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

// Entries whose largest output is 1 MiB or more: that output is copied into the cache by the kernel (entry format 4).
let sb: RepriseSandbox;
let w: string;

/** Every result blob of the sandbox's cache, by path. */
function resultBlobs(): string[] {
  const root = join(sb.cacheDir, "results");
  return readdirSync(root)
    .filter((shard) => /^[0-9a-f]{2}$/.test(shard))
    .flatMap((shard) => readdirSync(join(root, shard)).map((name) => join(root, shard, name)));
}

function formatFourBlobs(): string[] {
  return resultBlobs().filter((p) => readFileSync(p).subarray(-4).toString("latin1") === "RPRt");
}

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "src");
  mkdirSync(w, { recursive: true });
  // About 3 MiB of initialised data: an object well over the 1 MiB threshold.
  writeFileSync(join(w, "big.c"), "unsigned char table[3 * 1024 * 1024] = {1, 2, 3};\nint get(int i) { return table[i]; }\n");
  writeFileSync(join(w, "rewritten.c"), "unsigned char rewritten[2 * 1024 * 1024] = {9};\nint r(void) { return rewritten[7]; }\n");
  });

afterAll(async () => {
  await sb.dispose();
});

describe("large outputs copied into the cache by the kernel", () => {
  it("a miss and a hit give the plain compile's object and dependency file, stored in format 4", async () => {
    await expectSameAsPlain(sb, w, ["gcc", "-g", "-MD", "-MF", "big.d", "-c", "big.c", "-o", "big.o"], ["big.o", "big.d"]);
    expect(statSync(join(w, "big.o")).size).toBeGreaterThan(3 * 1024 * 1024);
    expect(formatFourBlobs().length).toBe(1);
  });

  it("the build rewriting the output right after the answer does not change what is cached", async () => {
    const ref = await plain("gcc", ["-c", "rewritten.c", "-o", "rewritten.o"], w);
    expect(ref.exitCode).toBe(0);
    const expected = readFileSync(join(w, "rewritten.o"));
    rmSync(join(w, "rewritten.o"));
    const miss = await sb.run(["gcc", "-c", "rewritten.c", "-o", "rewritten.o"], w);
    expect(miss.exitCode).toBe(0);
    // In place, as a build step that strips or patches its object would.
    writeFileSync(join(w, "rewritten.o"), Buffer.alloc(expected.length, 0xee), { flag: "r+" });
    writeFileSync(join(w, "rewritten.o"), "patched", { flag: "a" });
    rmSync(join(w, "rewritten.o"));
    await sb.zeroStats();
    const hit = await sb.run(["gcc", "-c", "rewritten.c", "-o", "rewritten.o"], w);
    expect(hit.exitCode).toBe(0);
    expect(readFileSync(join(w, "rewritten.o")).equals(expected)).toBe(true);
    const s = await sb.stats();
    expect(s.hitsDirect + s.hitsPreprocessor).toBe(1);
    expect(s.misses).toBe(0);
  });
});

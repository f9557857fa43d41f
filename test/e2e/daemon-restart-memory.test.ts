import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox({ REPRISE_PREPROCESSOR_FALLBACK: "0" });
  w = join(sb.root, "src");
  mkdirSync(join(w, "inc"), { recursive: true });
  writeFileSync(join(w, "inc", "shape.h"), "struct shape { int sides; };\n");
  for (const name of ["a", "b"]) writeFileSync(join(w, `${name}.c`), `#include <stdio.h>\n#include "shape.h"\nint ${name}(struct shape *s) { return printf("%d", s->sides); }\n`);
});

afterAll(async () => {
  await sb.dispose();
});

describe("what a daemon works out once outlives it", () => {
  it("a fresh daemon recalls the compiler and its include search, and its entries still hit and match a plain compile", { timeout: 120_000 }, async () => {
    const argv = (name: string) => ["gcc", "-O2", "-Iinc", "-c", `${name}.c`, "-o", `${name}.o`];
    await expectSameAsPlain(sb, w, argv("a"), ["a.o"]);
    // --stop-server returns once the daemon released its lock, after it wrote what it keeps.
    expect((await sb.run(["--stop-server"], sb.root)).exitCode).toBe(0);
    const detections = readFileSync(join(sb.cacheDir, "compiler-detections.json"), "utf8");
    expect(detections).toContain('"family":"gcc"');
    const searches = readFileSync(join(sb.cacheDir, "include-searches.json"), "utf8");
    expect(searches).toContain("/usr/include");
    // The headers' text digests (a silent compile), by content: written once, as a whole file renamed into place.
    const texts = join(sb.cacheDir, "text-digests.json");
    expect(readFileSync(texts, "utf8")).toContain('"format":"reprise-texts-2"');
    const textsFile = statSync(texts).ino;

    // The next daemon: the same compiler identity (a.o is a direct hit), and a new source is stored and hit as before.
    await sb.zeroStats();
    await expectSameAsPlain(sb, w, argv("a"), ["a.o"]);
    await expectSameAsPlain(sb, w, argv("b"), ["b.o"]);
    const stats = await sb.stats();
    expect(stats.misses).toBe(1);
    expect(stats.hitsDirect).toBe(3);
    // b.c read the same headers: the fresh daemon took their text digests from the file, so it had none to add.
    expect((await sb.run(["--stop-server"], sb.root)).exitCode).toBe(0);
    expect(statSync(texts).ino, "text-digests.json was not written again").toBe(textsFile);
  });
});

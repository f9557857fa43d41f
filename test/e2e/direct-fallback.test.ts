import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * A direct-mode miss looks up the preprocessed text's key before compiling:
 * a comment appended to a header changes the header's hash (direct miss) but
 * not the preprocessed text, and the object is the same bytes.
 */
let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "proj");
  mkdirSync(join(w, "include"), { recursive: true });
});

afterAll(async () => {
  await sb.dispose();
});

/** Compiles plainly and through Reprise, asserts the same bytes; returns the stats' change. */
async function compileAndCompare(argv: string[], outputs: string[]) {
  const clean = () => outputs.forEach((f) => rmSync(join(w, f), { force: true }));
  clean();
  const ref = await plain(argv[0]!, argv.slice(1), w);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  const want = outputs.map((f) => readFileSync(join(w, f)));
  clean();
  const before = await sb.stats();
  const got = await sb.run(argv, w);
  expect(got.exitCode, text(got.stderr)).toBe(0);
  expect(text(got.stderr)).toBe(text(ref.stderr));
  const after = await sb.stats();
  outputs.forEach((f, i) => expect(readFileSync(join(w, f)).equals(want[i]!), `${f} is byte-identical to a plain compile`).toBe(true));
  return { direct: after.hitsDirect - before.hitsDirect, preprocessor: after.hitsPreprocessor - before.hitsPreprocessor, misses: after.misses - before.misses };
}

describe.each(["gcc", "clang"])("%s: a comment added to a header", (cc) => {
  it("without -g: served through the preprocessed text's key, object and dep file identical", async () => {
    const header = `include/${cc}-api.h`;
    writeFileSync(join(w, header), "#define API 7\nint api(int);\n");
    writeFileSync(join(w, `${cc}-use.c`), `#include "${cc}-api.h"\nint use(int x) { return api(x) + API; }\n`);
    const argv = [cc, "-O2", "-Iinclude", "-MD", "-c", `${cc}-use.c`, "-o", `out-${cc}/use.o`];
    mkdirSync(join(w, `out-${cc}`), { recursive: true });
    const outputs = [`out-${cc}/use.o`, `out-${cc}/use.d`];
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    appendFileSync(join(w, header), "/* a comment the preprocessor drops */\n");
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 1, misses: 0 });
    // The fallback hit does not record the new header state: the next call uses the fallback again, still right.
    expect(await compileAndCompare(argv, outputs)).toMatchObject({ misses: 0 });
  });

  it("with -g: no fallback (debug info records what the text lacks), compiled again", async () => {
    const header = `include/${cc}-dbg.h`;
    writeFileSync(join(w, header), "#define DBG 7\nint dbg(int);\n");
    writeFileSync(join(w, `${cc}-dbg.c`), `#include "${cc}-dbg.h"\nint use(int x) { return dbg(x) + DBG; }\n`);
    const argv = [cc, "-g", "-O2", "-Iinclude", "-c", `${cc}-dbg.c`, "-o", `${cc}-dbg.o`];
    expect(await compileAndCompare(argv, [`${cc}-dbg.o`])).toMatchObject({ misses: 1 });
    appendFileSync(join(w, header), "/* a comment */\n");
    expect(await compileAndCompare(argv, [`${cc}-dbg.o`])).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
  });

  it("a compile with warnings is not served through the fallback (its diagnostics quote the source)", async () => {
    const header = `include/${cc}-warn.h`;
    writeFileSync(join(w, header), "#define ONE 1\n");
    writeFileSync(join(w, `${cc}-warn.c`), `#include "${cc}-warn.h"\nint f(void) { int unused; return ONE; }\n`);
    const argv = [cc, "-O2", "-Wall", "-Iinclude", "-c", `${cc}-warn.c`, "-o", `${cc}-warn.o`];
    const first = await compileAndCompare(argv, [`${cc}-warn.o`]);
    expect(first).toMatchObject({ misses: 1 });
    appendFileSync(join(w, header), "/* a comment */\n");
    expect(await compileAndCompare(argv, [`${cc}-warn.o`])).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
  });
});

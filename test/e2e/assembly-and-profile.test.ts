import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/** `-S` and `-fprofile-generate` compiles are cached (as ccache caches them), their outputs byte-identical to a plain compile. */
let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "proj");
  mkdirSync(join(w, "include"), { recursive: true });
  writeFileSync(join(w, "include/val.h"), "#define VAL 3\n");
  writeFileSync(join(w, "calc.c"), '#include <stdio.h>\n#include "val.h"\nint calc(int x) { if (x > VAL) return x * VAL; return x + 1; }\nint show(int x) { return printf("%d\\n", calc(x)); }\n');
});

afterAll(async () => {
  await sb.dispose();
});

/** Compiles plainly and through Reprise in `cwd`, asserts the same bytes; returns the stats' change. */
async function compileAndCompare(argv: string[], outputs: string[], cwd = w) {
  const clean = () => outputs.forEach((f) => rmSync(join(cwd, f), { force: true }));
  clean();
  const ref = await plain(argv[0]!, argv.slice(1), cwd);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  const want = outputs.map((f) => readFileSync(join(cwd, f)));
  clean();
  const before = await sb.stats();
  const got = await sb.run(argv, cwd);
  expect(got.exitCode, text(got.stderr)).toBe(0);
  expect(text(got.stderr)).toBe(text(ref.stderr));
  const after = await sb.stats();
  outputs.forEach((f, i) => expect(readFileSync(join(cwd, f)).equals(want[i]!), `${f} is byte-identical to a plain compile`).toBe(true));
  return { hits: after.hitsDirect + after.hitsPreprocessor - before.hitsDirect - before.hitsPreprocessor, misses: after.misses - before.misses };
}

describe.each(["gcc", "clang"])("%s", (cc) => {
  it("-S: the assembly (and its -MD file) cached, byte-identical; -S and -c never share an entry", async () => {
    const argv = [cc, "-O2", "-Iinclude", "-S", "-MD", "calc.c", "-o", `${cc}-calc.s`];
    const outputs = [`${cc}-calc.s`, `${cc}-calc.d`];
    expect(await compileAndCompare(argv, outputs)).toEqual({ hits: 0, misses: 1 });
    expect(readFileSync(join(w, `${cc}-calc.s`), "utf8")).toContain("calc");
    expect(await compileAndCompare(argv, outputs)).toEqual({ hits: 1, misses: 0 });
    // Without -o: calc.s in the cwd.
    expect(await compileAndCompare([cc, "-O2", "-Iinclude", "-S", "calc.c"], ["calc.s"])).toMatchObject({ misses: 1 });
    expect(await compileAndCompare([cc, "-O2", "-Iinclude", "-S", "calc.c"], ["calc.s"])).toEqual({ hits: 1, misses: 0 });
    // The same flags with -c are another entry: an object, not assembly text.
    expect(await compileAndCompare([cc, "-O2", "-Iinclude", "-c", "calc.c", "-o", `${cc}-calc.o`], [`${cc}-calc.o`])).toEqual({ hits: 0, misses: 1 });
  });

  it("-fprofile-generate: cached, byte-identical; another output directory is another entry (the object names its profile by it)", async () => {
    for (const dir of ["pg-a", "pg-b"]) mkdirSync(join(w, dir), { recursive: true });
    // GCC stamps instrumented objects with the time unless given a seed (two plain compiles differ): the seed makes a plain compile comparable.
    const seed = cc === "gcc" ? ["-frandom-seed=calc"] : [];
    const argv = (dir: string) => [cc, "-O2", ...seed, "-fprofile-generate", "-Iinclude", "-c", "calc.c", "-o", `${dir}/${cc}-calc.o`];
    expect(await compileAndCompare(argv("pg-a"), [`pg-a/${cc}-calc.o`])).toEqual({ hits: 0, misses: 1 });
    expect(await compileAndCompare(argv("pg-a"), [`pg-a/${cc}-calc.o`])).toEqual({ hits: 1, misses: 0 });
    if (cc === "gcc") expect(readFileSync(join(w, `pg-a/${cc}-calc.o`)).includes(Buffer.from(join(w, `pg-a/${cc}-calc.gcda`)))).toBe(true);
    expect(await compileAndCompare(argv("pg-b"), [`pg-b/${cc}-calc.o`])).toEqual({ hits: 0, misses: 1 });
    // With a profile directory the flag's value is in the key too.
    const withDir = [cc, "-O2", ...seed, `-fprofile-generate=${join(w, "prof")}`, "-Iinclude", "-c", "calc.c", "-o", `pg-a/${cc}-dir.o`];
    expect(await compileAndCompare(withDir, [`pg-a/${cc}-dir.o`])).toEqual({ hits: 0, misses: 1 });
    expect(await compileAndCompare(withDir, [`pg-a/${cc}-dir.o`])).toEqual({ hits: 1, misses: 0 });
  });
});

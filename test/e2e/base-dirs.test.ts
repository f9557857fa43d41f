import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * Two checkouts of one project at paths of different lengths share one cache
 * through `baseDirs` wherever the outputs are the same bytes, and never
 * where they record the checkout's path.
 */
let sb: RepriseSandbox;
let checkouts: string[];

beforeAll(() => {
  sb = new RepriseSandbox();
  const first = join(sb.root, "a", "proj");
  mkdirSync(join(first, "include"), { recursive: true });
  mkdirSync(join(first, "src"), { recursive: true });
  writeFileSync(join(first, "include/lib.h"), "#define FACTOR 3\nstatic inline int twice(int x) { return 2 * x; }\n");
  writeFileSync(join(first, "src/lib.c"), '#include "lib.h"\nint scale(int x) { return twice(x) * FACTOR; }\n');
  writeFileSync(join(first, "src/where.c"), '#include "lib.h"\nconst char *where(void) { return __FILE__; }\n');
  // Only the length of the path reaches the object: no path bytes for a scan of the outputs to find.
  writeFileSync(join(first, "src/length.c"), "int length(void) { return sizeof(__FILE__); }\n");
  writeFileSync(join(first, "src/check.c"), '#include <assert.h>\n#include "lib.h"\nint check(int x) { assert(x > FACTOR); return x; }\n');
  const second = join(sb.root, "builds", "second-checkout", "proj");
  cpSync(first, second, { recursive: true });
  checkouts = [first, second];
});

afterAll(async () => {
  await sb.dispose();
});

/**
 * Builds `src/<file>` in each checkout's build directory with `flags(checkout)`,
 * plainly and through Reprise (each checkout naming itself in REPRISE_BASEDIRS),
 * asserts each object and dep file is byte-identical to that checkout's plain
 * build, and returns per checkout whether Reprise hit.
 */
async function buildInEach(file: string, flags: (checkout: string) => string[], cc = "gcc", how: { absoluteSource?: boolean; depFile?: boolean } = {}): Promise<boolean[]> {
  const { absoluteSource = false, depFile = true } = how;
  const hits: boolean[] = [];
  for (const checkout of checkouts) {
    const build = join(checkout, "build");
    mkdirSync(build, { recursive: true });
    const obj = file.replace(/\.c$/, ".o");
    const outputs = depFile ? [obj, obj.replace(/\.o$/, ".d")] : [obj];
    const source = absoluteSource ? join(checkout, "src", file) : `../src/${file}`;
    const argv = [cc, ...flags(checkout), ...(depFile ? ["-MD"] : []), "-c", source, "-o", obj];
    const clean = () => outputs.forEach((f) => rmSync(join(build, f), { force: true }));
    clean();
    const ref = await plain(argv[0]!, argv.slice(1), build);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const want = outputs.map((f) => readFileSync(join(build, f)));
    clean();
    const before = await sb.stats();
    const got = await sb.run(argv, build, { env: { REPRISE_BASEDIRS: checkout } });
    expect(got.exitCode, text(got.stderr)).toBe(0);
    const after = await sb.stats();
    outputs.forEach((f, i) => expect(readFileSync(join(build, f)).equals(want[i]!), `${checkout}: ${f} is byte-identical to its own plain build`).toBe(true));
    hits.push(after.hitsDirect - before.hitsDirect === 1);
  }
  return hits;
}

describe.each(["gcc", "clang"])("%s: two checkouts, one cache", (cc) => {
  // Relative paths put the same bytes in the dependency file of both checkouts.
  it("-O2 -MD with relative paths: the second checkout hits", async () => {
    expect(await buildInEach("lib.c", () => ["-O2", "-I../include", `-DCC_${cc}`], cc)).toEqual([false, true]);
  });

  it("-O2 with the checkout's absolute source path (CMake) and no dependency file: the second checkout hits", async () => {
    expect(await buildInEach("lib.c", (c) => ["-O2", `-I${c}/include`, `-DCC_${cc}`, "-DCMAKE"], cc, { absoluteSource: true, depFile: false })).toEqual([false, true]);
  });

  it("the absolute source path in a dependency file: no sharing", async () => {
    expect(await buildInEach("lib.c", () => ["-O2", "-I../include", `-DCC_${cc}`, "-DABS_SOURCE"], cc, { absoluteSource: true })).toEqual([false, false]);
  });

  it("-g -ffile-prefix-map=<checkout>=. maps the path away: the second checkout hits", async () => {
    expect(await buildInEach("lib.c", (c) => ["-g", "-O1", `-ffile-prefix-map=${c}=.`, `-I${c}/include`, `-DCC_${cc}`], cc, { absoluteSource: true, depFile: false })).toEqual([false, true]);
  });

  it("plain -g records the checkout: no sharing, each gets its own object", async () => {
    expect(await buildInEach("lib.c", () => ["-g", "-O2", "-I../include", `-DCC_${cc}`], cc)).toEqual([false, false]);
  });

  it("__FILE__ of an absolute path without a macro map: no sharing", async () => {
    expect(await buildInEach("where.c", () => ["-O2", "-I../include", `-DCC_${cc}`], cc, { absoluteSource: true, depFile: false })).toEqual([false, false]);
  });

  it("sizeof(__FILE__): the object holds only the path's length, and still does not share", async () => {
    expect(await buildInEach("length.c", () => ["-O2", `-DCC_${cc}`], cc, { absoluteSource: true, depFile: false })).toEqual([false, false]);
  });

  it("__FILE__ of an absolute path with -ffile-prefix-map: shares", async () => {
    expect(await buildInEach("where.c", (c) => ["-O2", `-ffile-prefix-map=${c}=.`, "-I../include", `-DCC_${cc}`], cc, { absoluteSource: true, depFile: false })).toEqual([false, true]);
  });

  it("__FILE__ in a system header (assert) with -fmacro-prefix-map: shares", async () => {
    expect(await buildInEach("check.c", (c) => ["-O2", `-fmacro-prefix-map=${c}=.`, "-I../include", `-DCC_${cc}`], cc, { absoluteSource: true, depFile: false })).toEqual([false, true]);
  });

  it("__FILE__ in a system header (assert) without a map: no sharing", async () => {
    expect(await buildInEach("check.c", () => ["-O2", "-I../include", `-DCC_${cc}`, "-DUNMAPPED"], cc, { absoluteSource: true, depFile: false })).toEqual([false, false]);
  });

  it("an absolute -I puts the checkout in the dependency file: no sharing", async () => {
    expect(await buildInEach("lib.c", (c) => ["-O2", `-I${c}/include`, `-DCC_${cc}`, "-DABSOLUTE"], cc)).toEqual([false, false]);
  });
});

describe("without baseDirs", () => {
  it("checkouts at other paths do not share (the cwd is keyed)", async () => {
    const hits: boolean[] = [];
    for (const checkout of checkouts) {
      const build = join(checkout, "build");
      const before = await sb.stats();
      const r = await sb.run(["gcc", "-O2", "-I../include", "-DNO_BASE", "-c", join(checkout, "src/lib.c"), "-o", "nobase.o"], build);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      hits.push((await sb.stats()).hitsDirect - before.hitsDirect === 1);
    }
    expect(hits).toEqual([false, false]);
  });
});

describe("--explain with baseDirs", () => {
  it("sees the entry another checkout stored, and names a changed header by this checkout's path", async () => {
    const [first, second] = checkouts as [string, string];
    for (const c of checkouts) mkdirSync(join(c, "build"), { recursive: true });
    const argv = ["gcc", "-O2", "-I../include", "-DEXPLAIN_BASE", "-MD", "-c", "../src/lib.c", "-o", "explain.o"];
    const stored = await sb.run(argv, join(first, "build"), { env: { REPRISE_BASEDIRS: first } });
    expect(stored.exitCode, text(stored.stderr)).toBe(0);
    await sb.stats(); // the entry and its record are stored after the answer
    const other = await sb.run(["--explain", ...argv], join(second, "build"), { env: { REPRISE_BASEDIRS: second } });
    expect(text(other.stdout)).toMatch(/^hit: /);
    expect(other.exitCode).toBe(0);
    const header = join(first, "include/lib.h");
    const original = readFileSync(header);
    try {
      // A comment leaves the preprocessed text as it was: the fallback copy of the silent entry is served, and --explain says so.
      writeFileSync(header, `${original.toString()}/* a comment */\n`);
      const comment = await sb.run(["--explain", ...argv], join(first, "build"), { env: { REPRISE_BASEDIRS: first } });
      expect(text(comment.stdout)).toMatch(/^hit: /);
      writeFileSync(header, `${original.toString()}static inline int thrice(int x) { return 3 * x; }\n`);
      const r = await sb.run(["--explain", ...argv], join(first, "build"), { env: { REPRISE_BASEDIRS: first } });
      expect(r.exitCode).toBe(1);
      expect(text(r.stdout)).toBe(`miss: ${join(first, "src/lib.c")}\n  ${header} changed since the cached entry (content differs)\n`);
    } finally {
      writeFileSync(header, original);
    }
  });
});

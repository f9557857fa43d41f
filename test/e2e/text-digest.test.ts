import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * Text digests (docs/sharing.md): a header edited only in a comment or in
 * trailing whitespace still hits in direct mode, with no compiler run at
 * all, while an edit the preprocessor sees (a string next to `//`, a raw
 * string, a line added) compiles again. Every object is compared with a
 * plain compile of the tree as it is then.
 */
let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  // Idle copies off: a comment edit must be served by text digests alone, never by a copy made under the text's key.
  sb = new RepriseSandbox({ REPRISE_PREPROCESSOR_FALLBACK_COPIES: "0" });
  w = join(sb.root, "proj");
  mkdirSync(join(w, "include"), { recursive: true });
});

afterAll(async () => {
  await sb.dispose();
});

const wrappers = new Map<string, { path: string; runs: () => string[][] }>();

/** A compiler that logs each of its command lines, then runs the real one (written once: a rewritten one is another compiler). */
function loggingCompiler(cc: string): { path: string; runs: () => string[][] } {
  const known = wrappers.get(cc);
  if (known) return known;
  const made = writeLoggingCompiler(cc);
  wrappers.set(cc, made);
  return made;
}

function writeLoggingCompiler(cc: string): { path: string; runs: () => string[][] } {
  const dir = join(w, `bin-${cc}`);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "calls.log");
  const path = join(dir, cc);
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/${cc} "$@"\n`);
  chmodSync(path, 0o755);
  return { path, runs: () => readFileSync(log, { encoding: "utf8", flag: "a+" }).split("\n").filter(Boolean).map((l) => l.split(" ")) };
}

interface Outcome {
  direct: number;
  byText: number;
  misses: number;
  /** Compiles Reprise ran (-c without -E). */
  compiles: number;
  /** Compiler processes Reprise ran of any kind (compiles, preprocessing, include-search queries). */
  runs: number;
}

/** Compiles plainly and through Reprise (the logging compiler), asserts the same bytes and stderr; returns what Reprise did. */
async function compileAndCompare(cc: string, args: string[], output: string, env: Record<string, string> = {}): Promise<Outcome> {
  const wrapped = loggingCompiler(cc);
  rmSync(join(w, output), { force: true });
  const ref = await plain(cc, args, w);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  const want = readFileSync(join(w, output));
  rmSync(join(w, output), { force: true });
  const before = await sb.stats();
  const runsBefore = wrapped.runs().length;
  const got = await sb.run([wrapped.path, ...args], w, { env });
  expect(got.exitCode, text(got.stderr)).toBe(0);
  expect(text(got.stderr)).toBe(text(ref.stderr));
  const after = await sb.stats();
  expect(readFileSync(join(w, output)).equals(want), `${output} is byte-identical to a plain compile`).toBe(true);
  return {
    direct: after.hitsDirect - before.hitsDirect,
    byText: after.hitsDirectText - before.hitsDirectText,
    misses: after.misses - before.misses,
    compiles: wrapped.runs().slice(runsBefore).filter((a) => a.includes("-c") && !a.includes("-E")).length,
    runs: wrapped.runs().length - runsBefore,
  };
}

const MISS = { direct: 0, byText: 0, misses: 1 };
const TEXT_HIT: Outcome = { direct: 1, byText: 1, misses: 0, compiles: 0, runs: 0 };
const DIRECT_HIT: Outcome = { direct: 1, byText: 0, misses: 0, compiles: 0, runs: 0 };

describe.each([
  ["gcc", "c"],
  ["clang", "c"],
  ["g++", "cc"],
  ["clang++", "cc"],
])("%s: text digests", (cc, ext) => {
  const name = cc.replace(/\+/g, "x");
  const header = `include/${name}-api.h`;
  const source = `${name}-use.${ext}`;
  const object = `${name}-use.o`;
  const args = ["-O2", "-Iinclude", "-MD", "-c", source, "-o", object];
  const compile = () => compileAndCompare(cc, args, object);

  beforeAll(() => {
    writeFileSync(
      join(w, header),
      [
        "/* The API of the test.",
        "   Two lines of comment. */",
        "#define API 7 // the answer, almost",
        'static const char *api_name = "api // not a comment";',
        "int api(int x); /* declared here */",
        "",
      ].join("\n"),
    );
    writeFileSync(join(w, source), `#include "${name}-api.h"\nint use(int x) { return api(x) + API + api_name[0]; }\n`);
  });

  it("a cold miss compiles once, and queues no preprocessed-text copy for idle time", async () => {
    expect(await compile()).toMatchObject({ ...MISS, compiles: 1 });
    expect((await sb.stats()).fallbackCopiesWaiting).toBe(0);
    expect(await compile()).toEqual(DIRECT_HIT);
  });

  it("a comment edited in the header hits by text, without running the compiler; the next call is a plain direct hit", async () => {
    writeFileSync(join(w, header), readFileSync(join(w, header), "utf8").replace("Two lines of comment.", "Two lines, edited."));
    expect(await compile()).toEqual(TEXT_HIT);
    expect(await compile()).toEqual(DIRECT_HIT);
  });

  it("a comment ending a line, trailing whitespace, and a comment added at a line's end: hits by text", async () => {
    writeFileSync(join(w, header), readFileSync(join(w, header), "utf8").replace("the answer, almost", "the answer (edited)"));
    expect(await compile()).toEqual(TEXT_HIT);
    writeFileSync(join(w, header), readFileSync(join(w, header), "utf8").replace("int api(int x);", "int api(int x);   \t"));
    expect(await compile()).toEqual(TEXT_HIT);
    writeFileSync(join(w, header), readFileSync(join(w, header), "utf8").replace('"api // not a comment";', '"api // not a comment"; // a new comment'));
    expect(await compile()).toEqual(TEXT_HIT);
  });

  it("an edit inside a string literal next to `//` compiles again", async () => {
    writeFileSync(join(w, header), readFileSync(join(w, header), "utf8").replace("api // not a comment", "Api // not a comment"));
    expect(await compile()).toMatchObject({ ...MISS, compiles: 1 });
  });

  it("a line added inside a comment moves every later token: compiles again", async () => {
    writeFileSync(join(w, header), readFileSync(join(w, header), "utf8").replace("Two lines, edited.", "Two lines, edited.\n   And a third."));
    expect(await compile()).toMatchObject({ ...MISS, compiles: 1 });
  });

  it("a macro's value changed next to an unchanged comment compiles again", async () => {
    writeFileSync(join(w, header), readFileSync(join(w, header), "utf8").replace("#define API 7", "#define API 8"));
    expect(await compile()).toMatchObject({ ...MISS, compiles: 1 });
  });
});

describe.each(["g++", "clang++"])("%s: C++ only text", (cc) => {
  const name = cc.replace(/\+/g, "x");

  it("digit separators (C++14): a comment with an apostrophe after `1'000` is a comment; edited, it hits by text", async () => {
    writeFileSync(join(w, `include/${name}-sep.h`), "constexpr long kMillion = 1'000'000; // it's a million\n");
    writeFileSync(join(w, `${name}-sep.cc`), `#include "${name}-sep.h"\nlong million() { return kMillion; }\n`);
    const args = ["-std=c++17", "-O2", "-Iinclude", "-c", `${name}-sep.cc`, "-o", `${name}-sep.o`];
    expect(await compileAndCompare(cc, args, `${name}-sep.o`)).toMatchObject(MISS);
    writeFileSync(join(w, `include/${name}-sep.h`), "constexpr long kMillion = 1'000'000; // its value: a million\n");
    expect(await compileAndCompare(cc, args, `${name}-sep.o`)).toEqual(TEXT_HIT);
    writeFileSync(join(w, `include/${name}-sep.h`), "constexpr long kMillion = 1'000'001; // its value: a million\n");
    expect(await compileAndCompare(cc, args, `${name}-sep.o`)).toMatchObject({ ...MISS, compiles: 1 });
  });

  it("a header with a raw string is compared by its exact bytes: a comment edit there compiles again", async () => {
    const header = `include/${name}-raw.h`;
    writeFileSync(join(w, header), 'static const char *kRaw = R"d(/* not a comment */ // nor this)d"; // a comment\n');
    writeFileSync(join(w, `${name}-raw.cc`), `#include "${name}-raw.h"\nchar raw(int i) { return kRaw[i]; }\n`);
    const args = ["-std=c++17", "-O2", "-Iinclude", "-c", `${name}-raw.cc`, "-o", `${name}-raw.o`];
    expect(await compileAndCompare(cc, args, `${name}-raw.o`)).toMatchObject(MISS);
    writeFileSync(join(w, header), 'static const char *kRaw = R"d(/* not a comment */ // nor this)d"; // edited\n');
    expect(await compileAndCompare(cc, args, `${name}-raw.o`)).toMatchObject({ ...MISS, compiles: 1 });
  });
});

describe("what keeps text digests out", () => {
  it("REPRISE_TEXT_DIGESTS=0: a comment edit compiles again; the entry it recorded without texts serves no text hit later", async () => {
    writeFileSync(join(w, "include/off.h"), "int off(int); /* one */\n");
    writeFileSync(join(w, "off.c"), '#include "off.h"\nint k(int x) { return off(x); }\n');
    const args = ["-O2", "-Iinclude", "-c", "off.c", "-o", "off.o"];
    const off = { REPRISE_TEXT_DIGESTS: "0" };
    expect(await compileAndCompare("gcc", args, "off.o", off)).toMatchObject(MISS);
    writeFileSync(join(w, "include/off.h"), "int off(int); /* two */\n");
    expect(await compileAndCompare("gcc", args, "off.o", off)).toMatchObject({ ...MISS, compiles: 1 });
    // Digests on again: the entries recorded with them off have no texts, so no text hit; the same call seen
    // before in this daemon preprocesses first (as a -D sibling would), and its text's entry, stored by the miss above, serves it.
    writeFileSync(join(w, "include/off.h"), "int off(int); /* three */\n");
    expect(await compileAndCompare("gcc", args, "off.o")).toMatchObject({ byText: 0, misses: 0, compiles: 0 });
  });

  it("-C keeps comments in the preprocessed text: a comment edit compiles again", async () => {
    writeFileSync(join(w, "include/keep.h"), "int keep(int); /* one */\n");
    writeFileSync(join(w, "keep.c"), '#include "keep.h"\nint k(int x) { return keep(x); }\n');
    const args = ["-O2", "-C", "-Iinclude", "-c", "keep.c", "-o", "keep.o"];
    expect(await compileAndCompare("gcc", args, "keep.o")).toMatchObject(MISS);
    appendFileSync(join(w, "include/keep.h"), "/* two */\n");
    expect(await compileAndCompare("gcc", args, "keep.o")).toMatchObject({ byText: 0 });
  });

  it("-std=c89 has no `//` comments: an edit after `//` compiles again", async () => {
    writeFileSync(join(w, "include/c89.h"), "int c89(int); // one\n");
    writeFileSync(join(w, "c89.c"), '#include "c89.h"\nint k(int x) { return c89(x); }\n');
    const args = ["-O2", "-std=gnu89", "-Iinclude", "-c", "c89.c", "-o", "c89.o"];
    // gnu89 knows `//` (a GNU extension): text digests apply.
    expect(await compileAndCompare("gcc", args, "c89.o")).toMatchObject(MISS);
    writeFileSync(join(w, "include/c89.h"), "int c89(int); // two\n");
    expect(await compileAndCompare("gcc", args, "c89.o")).toEqual(TEXT_HIT);
    const strict = ["-O2", "-std=c89", "-Iinclude", "-c", "c89.c", "-o", "c89s.o"];
    writeFileSync(join(w, "include/c89.h"), "int c89(int); /* one */\n");
    expect(await compileAndCompare("gcc", strict, "c89s.o")).toMatchObject(MISS);
    writeFileSync(join(w, "include/c89.h"), "int c89(int); /* two */\n");
    expect(await compileAndCompare("gcc", strict, "c89s.o")).toMatchObject({ byText: 0, misses: 1 });
  });
});

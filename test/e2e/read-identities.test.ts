import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * A GCC or clang miss learns the identity of each file it read from the
 * compile itself (the read tracer takes an fstat of the open file when the
 * compiler closes it), so the daemon records what the compile read without
 * a stat of its own. Shown here by a header rewritten right after the
 * compile, before the daemon stores the entry: the entry records the content
 * the compile read (its own stat would have seen the new content and refused
 * to record it), a call with the new content misses, and the old content
 * hits again. Every object is compared with a plain compile's, byte for byte.
 */
let sb: RepriseSandbox;

const OLD = "#define ANSWER 41\nstatic inline int answer(void) { return ANSWER; }\n";
const NEW = "#define ANSWER 42\nstatic inline int answer(void) { return ANSWER; }\n";

/** A project for one compiler: its sources, and a wrapper that, when asked to, rewrites the header once its compile is over (a build step racing the store). */
function project(cc: string, real: string): string {
  const w = join(sb.root, cc);
  mkdirSync(join(w, "inc"), { recursive: true });
  mkdirSync(join(w, "out"), { recursive: true });
  writeFileSync(join(w, "inc/answer.h"), OLD);
  writeFileSync(join(w, "first.c"), '#include <stdio.h>\n#include "answer.h"\nint first(void) { return answer() + 1; }\n');
  writeFileSync(join(w, "second.c"), '#include <stdio.h>\n#include "answer.h"\nint second(void) { printf("%d\\n", answer()); return 0; }\n');
  writeFileSync(
    join(w, cc),
    `#!/bin/sh\n${real} "$@"; rc=$?\nif [ -f '${w}/flip' ]; then rm -f '${w}/flip'; printf '%s' '${NEW}' > '${w}/inc/answer.h'; fi\nexit $rc\n`,
  );
  chmodSync(join(w, cc), 0o755);
  return w;
}

beforeAll(() => {
  sb = new RepriseSandbox();
});

afterAll(async () => {
  await sb.dispose();
});

describe.each([
  { cc: "gcc", real: "/usr/bin/gcc" },
  { cc: "clang", real: "/usr/bin/clang" },
])("$cc: the identity of what the compile read comes from the compile", ({ cc, real }) => {
  let w: string;
  beforeAll(() => {
    w = project(cc, real);
  });

  const argv = (compiler: string, source: string) => [compiler, "-O1", "-Wall", "-Iinc", "-c", `${source}.c`, "-o", `out/${source}.o`, "-MD", "-MF", `out/${source}.d`];

  /** The object and dependency file a plain compile of `source` gives with the header holding `header`. */
  async function plainOutputs(source: string, header: string): Promise<Buffer[]> {
    writeFileSync(join(w, "inc/answer.h"), header);
    const r = await plain(real, argv(cc, source).slice(1), w);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    return [readFileSync(join(w, `out/${source}.o`)), readFileSync(join(w, `out/${source}.d`))];
  }

  /** Reprise's compile of `source` through the rewriting wrapper; its outputs must be `want`; the stats' change. */
  async function compile(source: string, want: Buffer[]): Promise<{ misses: number; direct: number }> {
    rmSync(join(w, `out/${source}.o`), { force: true });
    const before = await sb.stats();
    const r = await sb.run(argv(join(w, cc), source), w);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(readFileSync(join(w, `out/${source}.o`)).equals(want[0]!), `${source}.o is byte-identical to a plain compile`).toBe(true);
    expect(readFileSync(join(w, `out/${source}.d`)).equals(want[1]!), `${source}.d is byte-identical to a plain compile`).toBe(true);
    const after = await sb.stats();
    return { misses: after.misses - before.misses, direct: after.hitsDirect - before.hitsDirect };
  }

  /** Waits (bounded) until the header has been unchanged for longer than the hash cache's racy window (2 s), so its digest is remembered. */
  async function headerSettled(): Promise<void> {
    const path = join(w, "inc/answer.h");
    for (let i = 0; i < 100; i++) {
      const st = statSync(path);
      if (Date.now() - Math.max(st.mtimeMs, st.ctimeMs) > 2500) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the header never looked settled (clock?)");
  }

  it("a header rewritten right after the compile: the entry holds what the compiler read; the new content misses, the old one hits", async () => {
    const firstOld = await plainOutputs("first", OLD);
    const secondOld = await plainOutputs("second", OLD);
    const secondNew = await plainOutputs("second", NEW);
    writeFileSync(join(w, "inc/answer.h"), OLD);
    await headerSettled();
    // The daemon hashes the settled header once (and remembers it under its identity).
    expect(await compile("first", firstOld)).toEqual({ misses: 1, direct: 0 });
    // Its idle copy runs the wrapper again (`-E`, for the text key): done before the flip is armed, or it would be the
    // call that rewrites the header (seen at load 14, when the test's next steps took longer than the daemon's idle delay).
    await sb.idleCopiesMade(w);

    // The compiler reads the old header; the header is rewritten as soon as the compiler exits, before the daemon stores the entry.
    writeFileSync(join(w, "flip"), "");
    expect(await compile("second", secondOld)).toEqual({ misses: 1, direct: 0 });
    expect(readFileSync(join(w, "inc/answer.h"), "utf8")).toBe(NEW);
    // The new content is not served the old object.
    expect(await compile("second", secondNew)).toEqual({ misses: 1, direct: 0 });

    // The old content again (a new identity): the entry recorded from the compile's own identity serves it.
    writeFileSync(join(w, "inc/answer.h"), OLD);
    expect(await compile("second", secondOld), sb.daemonLogTail(20)).toEqual({ misses: 0, direct: 1 });
  });
});

import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * A source written just before its compile (a build step that generates a
 * file and compiles it at once): direct mode cannot tell which content the
 * compile read, so the result is stored under the preprocessed text's key,
 * and the next identical call hits through it. "Just before" is made
 * certain by a modification time in the future: the daemon sees a file that
 * changed at the call's start, however long the client took to connect.
 */
let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "proj");
  mkdirSync(join(w, "include"), { recursive: true });
  writeFileSync(join(w, "include/gen.h"), "#define GEN_BASE 40\nint gen_use(int);\n");
});

afterAll(async () => {
  await sb.dispose();
});

/** Writes `name` as a generator would, changed "now" as far as the daemon can tell. */
function generate(name: string, body: string): void {
  writeFileSync(join(w, name), body);
  const soon = new Date(Date.now() + 60_000);
  utimesSync(join(w, name), soon, soon);
}

async function reference(cc: string, source: string): Promise<{ object: Buffer; stderr: string }> {
  const out = join(w, `ref-${source}.o`);
  rmSync(out, { force: true });
  const r = await plain(cc, ["-O2", "-Iinclude", "-c", source, "-o", out], w);
  expect(r.exitCode, text(r.stderr)).toBe(0);
  return { object: readFileSync(out), stderr: text(r.stderr) };
}

/** One call through Reprise; its object and stderr, and the change in the stats. */
async function viaReprise(cc: string, source: string) {
  const out = join(w, `${source}.o`);
  rmSync(out, { force: true });
  const before = await sb.stats();
  const r = await sb.run([cc, "-O2", "-Iinclude", "-c", source, "-o", out], w);
  expect(r.exitCode, text(r.stderr)).toBe(0);
  const after = await sb.stats();
  return {
    object: readFileSync(out),
    stderr: text(r.stderr),
    counts: { direct: after.hitsDirect - before.hitsDirect, preprocessor: after.hitsPreprocessor - before.hitsPreprocessor, misses: after.misses - before.misses },
  };
}

describe.each(["gcc", "clang"])("%s: a source written just before its compile", (cc) => {
  it("is stored under its preprocessed text's key: a second identical call hits, byte-identical", async () => {
    const source = `${cc}-fresh.c`;
    generate(source, '#include "gen.h"\nint fresh(int x) { return gen_use(x) + GEN_BASE; }\n');
    const first = await viaReprise(cc, source);
    expect(first.counts).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    const ref = await reference(cc, source);
    expect(first.object.equals(ref.object), "the miss's object is a plain compile's").toBe(true);
    const second = await viaReprise(cc, source);
    expect(second.counts).toEqual({ direct: 0, preprocessor: 1, misses: 0 });
    expect(second.object.equals(ref.object), "the hit's object is a plain compile's").toBe(true);
    expect(second.stderr).toBe(ref.stderr);
  });

  it("changed again between the two calls: the second misses and compiles the new content", async () => {
    const source = `${cc}-regen.c`;
    generate(source, '#include "gen.h"\nint regen(int x) { return gen_use(x) + GEN_BASE; }\n');
    expect((await viaReprise(cc, source)).counts).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    generate(source, '#include "gen.h"\nint regen(int x) { return gen_use(x) - GEN_BASE * 2; }\n');
    const second = await viaReprise(cc, source);
    expect(second.counts).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    const ref = await reference(cc, source);
    expect(second.object.equals(ref.object), "the object is the new content's").toBe(true);
  });

  it("a compile with diagnostics is not stored that way (the preprocessed text's entries are served only when silent)", async () => {
    const source = `${cc}-noisy.c`;
    generate(source, "#warning generated\nint noisy(int x) { return x; }\n");
    expect((await viaReprise(cc, source)).counts).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    const second = await viaReprise(cc, source);
    expect(second.counts).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    expect(second.stderr).toBe((await reference(cc, source)).stderr);
  });
});

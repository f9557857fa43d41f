// The hit index after a build of files written just before it (a checkout,
// a generated header, an edit saved right before `make`): the daemon cannot
// vouch for a file read while its timestamp could still hide a same-tick
// rewrite (racy-window.ts), so it reads it again once settled and writes the
// entry then. The
// next rebuild is answered by the native client, byte for byte a plain
// compile's, without a daemon hit first. Entries it cannot write are counted
// by reason in the stats.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sb: RepriseSandbox;
let index: string;

function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** The index entries whose watched paths lie in `dir`, with their mtimes. */
function entriesFor(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of existsSync(index) ? readdirSync(index) : []) {
    if (!/^[0-9a-f]{16}$/.test(name)) continue;
    try {
      if (readFileSync(join(index, name)).includes(`${dir}/`)) out.set(name, statSync(join(index, name)).mtimeMs);
    } catch {
      // replaced meanwhile
    }
  }
  return out;
}

/** Waits (bounded, 60 s: a loaded machine delays the idle write and the second try) for an entry of `dir` written since `before`. */
async function entryWritten(dir: string, before: Map<string, number>): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    for (const [name, mtime] of entriesFor(dir)) if (before.get(name) !== mtime) return;
    await sleep(20);
  }
  const s = await sb.stats();
  throw new Error(`no hit-index entry for ${dir}: skipped ${JSON.stringify(s.hitIndexSkipped)}\n${sb.daemonLogTail(30)}`);
}

async function build(argv: string[], cwd: string) {
  const before = await sb.stats();
  const r = await sb.run(argv, cwd);
  expect(r.exitCode, text(r.stderr)).toBe(0);
  const after = await sb.stats();
  return { byClient: after.hitsByClient > before.hitsByClient, misses: after.misses - before.misses, stats: after };
}

async function expectLikePlain(argv: string[], cwd: string, object: string): Promise<Buffer> {
  const got = readFileSync(join(cwd, object));
  const ref = `${object}.plain.o`;
  const r = await plain(argv[0]!, argv.slice(1).map((a) => (a === object ? ref : a)), cwd);
  expect(r.exitCode).toBe(0);
  const want = readFileSync(join(cwd, ref));
  rmSync(join(cwd, ref));
  expect(got.equals(want), `${object} differs from a plain compile`).toBe(true);
  return got;
}

describe("hit-index entries of files that were still settling", () => {
  beforeAll(async () => {
    sb = new RepriseSandbox({}, "native");
    index = join(sb.runtimeDir, "hit-index");
    // The daemon started and gcc known: the first case's files are then read well within their racy window.
    const warmup = join(sb.root, "warmup");
    write(join(warmup, "w.c"), "int w;\n");
    expect((await sb.run(["gcc", "-c", "w.c", "-o", "w.o"], warmup)).exitCode).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await sb?.dispose();
  });

  it("a cold build of files written just before it: the next rebuild is the client's", async () => {
    const dir = join(sb.root, "fresh");
    const argv = ["gcc", "-Igen", "-c", "main.c", "-o", "main.o"];
    // Written right before the build, as a generated header is: both may be read while their timestamps are racy.
    write(join(dir, "gen/version.h"), "#define VERSION 7\n");
    write(join(dir, "main.c"), '#include "version.h"\nint version(void) { return VERSION; }\n');
    const before = entriesFor(dir);
    const cold = await build(argv, dir);
    expect(cold.misses).toBe(1);
    await expectLikePlain(argv, dir, "main.o");
    // Written once the daemon is idle and the files have settled, without another call first.
    await entryWritten(dir, before);
    const warm = await build(argv, dir);
    expect(warm.byClient, `the rebuild is answered by the native client (skipped: ${JSON.stringify(warm.stats.hitIndexSkipped)})`).toBe(true);
    expect(warm.misses).toBe(0);
    await expectLikePlain(argv, dir, "main.o");
    // Read again only when the daemon first read them within the racy window (10 ms past their change on a local file
    // system that keeps nanoseconds, racy-window.ts): whether it did depends on the machine's speed. None was given up.
    expect(warm.stats.hitIndexSkipped["source-not-settled"] ?? 0).toBe(0);
    expect(warm.stats.hitIndexSkipped["header-not-settled"] ?? 0).toBe(0);
  }, 120_000);

  it("a daemon hit right after a header was rewritten with the same bytes: indexed once the header settled", async () => {
    const dir = join(sb.root, "touched");
    const argv = ["gcc", "-Iinc", "-c", "t.c", "-o", "t.o"];
    write(join(dir, "inc/t.h"), "#define T 3\n");
    write(join(dir, "t.c"), '#include "t.h"\nint t(void) { return T; }\n');
    let before = entriesFor(dir);
    await build(argv, dir);
    await entryWritten(dir, before);
    expect((await build(argv, dir)).byClient).toBe(true);
    // The same bytes again: the client cannot tell (its stat changed), the daemon hits on the content.
    write(join(dir, "inc/t.h"), "#define T 3\n");
    before = entriesFor(dir);
    const hit = await build(argv, dir);
    expect(hit.byClient).toBe(false);
    expect(hit.misses).toBe(0);
    // That hit read the header while racy: its entry comes on the second try, once the header settled.
    await entryWritten(dir, before);
    const next = await build(argv, dir);
    expect(next.byClient).toBe(true);
    await expectLikePlain(argv, dir, "t.o");
  }, 120_000);

  it("counts why an entry is not written: a result that depends on the date", async () => {
    const dir = join(sb.root, "dated");
    const argv = ["gcc", "-c", "d.c", "-o", "d.o"];
    write(join(dir, "d.c"), "const char *built = __DATE__;\n");
    const first = await build(argv, dir);
    await build(argv, dir);
    // The daemon hit's entry is refused at once (no idle wait): poll the stats, bounded.
    let skipped = 0;
    for (let i = 0; i < 300 && skipped <= (first.stats.hitIndexSkipped["date-dependent"] ?? 0); i++) {
      skipped = (await sb.stats()).hitIndexSkipped["date-dependent"] ?? 0;
      if (skipped <= (first.stats.hitIndexSkipped["date-dependent"] ?? 0)) await sleep(100);
    }
    expect(skipped).toBeGreaterThan(first.stats.hitIndexSkipped["date-dependent"] ?? 0);
    const shown = await sb.run(["--show-stats"], dir);
    expect(text(shown.stdout)).toMatch(/Not indexed for the native client: date-dependent\s+\d+/);
    expect((await build(argv, dir)).byClient).toBe(false);
  }, 120_000);
});

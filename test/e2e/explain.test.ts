import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

let sb: RepriseSandbox;
let w: string;
const compile = ["gcc", "-Iinclude", "-O2", "-c", "uv.c", "-o", "uv.o"];

function explain(args: string[], env: Record<string, string> = {}) {
  return sb.run(["--explain", ...args], w, { env });
}

beforeAll(async () => {
  // The fallback's copies are made while idle here: this file checks that --explain finds them.
  sb = new RepriseSandbox({ REPRISE_PREPROCESSOR_FALLBACK_COPIES: "1" });
  w = join(sb.root, "src");
  mkdirSync(join(w, "include"), { recursive: true });
  writeFileSync(join(w, "include/uv.h"), "#define UV_ANSWER 42\n");
  writeFileSync(join(w, "uv.c"), '#include "uv.h"\nint uv_answer(void) { return UV_ANSWER; }\n');
  const first = await sb.run(compile, w);
  expect(first.exitCode, text(first.stderr)).toBe(0);
  await idleCopiesMade();
});

/** The copies under the preprocessed text's key are made once the daemon is idle: waits (bounded) until none waits. */
async function idleCopiesMade(): Promise<void> {
  for (let i = 0; i < 450 && (await sb.stats()).fallbackCopiesWaiting > 0; i++) await new Promise((r) => setTimeout(r, 200));
}

afterAll(async () => {
  await sb.dispose();
});

describe("reprise --explain", () => {
  it("says hit for a call the cache holds, and compiles nothing", async () => {
    rmSync(join(w, "uv.o"), { force: true });
    const before = await sb.stats();
    const r = await explain(compile);
    expect(text(r.stdout)).toMatch(/^hit: uv\.c would be served from the cache \(direct mode\)/);
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(w, "uv.o"))).toBe(false);
    expect(await sb.stats()).toEqual(before);
  });

  it("names the argument that differs, with the cached entry's value", async () => {
    const r = await explain(["gcc", "-Iinclude", "-O3", "-c", "uv.c", "-o", "uv.o"]);
    expect(r.exitCode).toBe(1);
    expect(text(r.stdout)).toContain("argument -O3 differs (cached entry had -O2)");
    // A -D the source ignores leaves the preprocessed text as it was: served through the fallback key.
    expect(text((await explain([...compile, "-DEXTRA=1"])).stdout)).toMatch(/^hit: /);
    const added = await explain([...compile, "-DEXTRA=1"], { REPRISE_PREPROCESSOR_FALLBACK: "0" });
    expect(text(added.stdout)).toContain("argument -DEXTRA=1 is new");
  });

  it("says a hit by text digests, naming the header that changed only in a comment, and compiles nothing", async () => {
    writeFileSync(join(w, "include/note.h"), "#define NOTE 1 /* first words */\n");
    writeFileSync(join(w, "note.c"), '#include "note.h"\nint note(void) { return NOTE; }\n');
    const cmd = ["gcc", "-Iinclude", "-O2", "-c", "note.c", "-o", "note.o"];
    // Files changed within a clock tick of the call are not recorded for direct mode (racy): let them age past it.
    for (let i = 0; i < 100 && ["note.c", "include/note.h"].some((f) => Date.now() - statSync(join(w, f)).ctimeMs < 200); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await sb.run(cmd, w)).exitCode).toBe(0);
    // The entry is stored after the answer; its idle copy (on in this file) must not change the stats of a later test.
    await idleCopiesMade();
    writeFileSync(join(w, "include/note.h"), "#define NOTE 1 /* other words */\n");
    const before = await sb.stats();
    const r = await explain(cmd);
    expect(text(r.stdout)).toBe("hit: note.c would be served from the cache (direct mode, by text: include/note.h changed only in comments or trailing whitespace)\n");
    expect(await sb.stats()).toEqual(before);
  });

  it("names an environment variable of the key that changed", async () => {
    const r = await explain(compile, { SOURCE_DATE_EPOCH: "1700000000" });
    expect(r.exitCode).toBe(1);
    expect(text(r.stdout)).toContain('environment variable SOURCE_DATE_EPOCH differs (now "1700000000", in the cached entry unset)');
    const cpath = await explain(compile, { CPATH: join(w, "include") });
    expect(text(cpath.stdout)).toContain("environment variable CPATH differs");
  });

  it("names the header that changed, by its path, and compiles nothing", async () => {
    const before = await sb.stats();
    writeFileSync(join(w, "include/uv.h"), "#define UV_ANSWER 43\n");
    rmSync(join(w, "uv.o"), { force: true });
    const r = await explain(compile);
    expect(r.exitCode).toBe(1);
    expect(text(r.stdout)).toBe("miss: uv.c\n  include/uv.h changed since the cached entry (content differs)\n");
    expect(existsSync(join(w, "uv.o"))).toBe(false);
    expect(await sb.stats()).toEqual(before);
    // The real call agrees: a miss, then a hit that --explain sees too, with the plain compile's object.
    const miss = await sb.run(compile, w);
    expect(miss.exitCode, text(miss.stderr)).toBe(0);
    const cached = readFileSync(join(w, "uv.o"));
    const ref = await plain("gcc", ["-Iinclude", "-O2", "-c", "uv.c", "-o", "ref.o"], w);
    expect(ref.exitCode).toBe(0);
    expect(cached.equals(readFileSync(join(w, "ref.o")))).toBe(true);
    const after = await sb.stats();
    expect(after.misses - before.misses).toBe(1);
    expect(text((await explain(compile)).stdout)).toMatch(/^hit: /);
  });

  it("names the source when it changed, and a header that is gone", async () => {
    writeFileSync(join(w, "gone.h"), "#define G 1\n");
    writeFileSync(join(w, "g.c"), '#include "gone.h"\nint g(void) { return G; }\n');
    expect((await sb.run(["gcc", "-c", "g.c", "-o", "g.o"], w)).exitCode).toBe(0);
    await sb.stats(); // the entry is stored after the answer
    rmSync(join(w, "gone.h"));
    writeFileSync(join(w, "g.c"), "int g(void) { return 2; }\n");
    const out = text((await explain(["gcc", "-c", "g.c", "-o", "g.o"])).stdout);
    expect(out).toContain("the source g.c changed since the cached entry (content differs)");
    expect(out).toContain("gone.h no longer exists (the cached entry read it)");
  });

  it("says why a call is not cacheable, and when nothing was ever recorded", async () => {
    const link = await explain(["gcc", "uv.o", "-o", "prog"]);
    expect(link.exitCode).toBe(1);
    expect(text(link.stdout)).toContain("not cached: this call is not cacheable (linking)");
    writeFileSync(join(w, "clock.c"), "const char *t = __TIME__;\n");
    expect(text((await explain(["gcc", "-c", "clock.c", "-o", "clock.o"])).stdout)).toContain("not cached: the source uses __TIME__");
    writeFileSync(join(w, "new.c"), "int n;\n");
    const fresh = await explain(["gcc", "-c", "new.c", "-o", "new.o"]);
    expect(text(fresh.stdout)).toContain("no cached entry of");
  });

  it("names a compiler whose identity changed (replaced in place) and a call from another directory", async () => {
    const bin = join(sb.root, "bin");
    mkdirSync(bin, { recursive: true });
    // A wrapper script as the compiler: its own bytes are part of its identity.
    writeFileSync(join(bin, "gcc"), '#!/bin/sh\nexec /usr/bin/gcc "$@"\n', { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH ?? ""}` };
    writeFileSync(join(w, "id.c"), "int id;\n");
    const cmd = ["gcc", "-c", join(w, "id.c"), "-o", join(w, "id.o")];
    const first = await sb.run(cmd, w, { env });
    expect(first.exitCode, text(first.stderr)).toBe(0);
    await sb.stats();
    expect(text((await sb.run(["--explain", ...cmd], w, { env })).stdout)).toMatch(/^hit: /);
    await idleCopiesMade();
    // Without -g the object does not record the cwd: the fallback key would serve it; without the fallback, the cwd is named.
    expect(text((await sb.run(["--explain", ...cmd], join(w, "include"), { env })).stdout)).toMatch(/^hit: /);
    const elsewhere = await sb.run(["--explain", ...cmd], join(w, "include"), { env: { ...env, REPRISE_PREPROCESSOR_FALLBACK: "0" } });
    expect(text(elsewhere.stdout)).toContain(`the working directory differs (now ${join(w, "include")}, cached entry ${w})`);
    appendFileSync(join(bin, "gcc"), "# another build of the same compiler\n");
    const r = await sb.run(["--explain", ...cmd], w, { env });
    expect(text(r.stdout)).toContain(`the compiler ${join(bin, "gcc")} is not the one of the cached entry (its identity changed`);
  });

  it("explains rustc calls too: a -C option and an edited source", async () => {
    const crate = join(sb.root, "crate");
    mkdirSync(join(crate, "src"), { recursive: true });
    mkdirSync(join(crate, "out"), { recursive: true });
    writeFileSync(join(crate, "src/lib.rs"), "pub fn answer() -> u32 { 42 }\n");
    const cmd = (level: string) => ["rustc", "--crate-name", "answer", "--edition=2021", "src/lib.rs", "--crate-type", "lib", "--emit=dep-info,metadata,link", "-C", `opt-level=${level}`, "--out-dir", join(crate, "out")];
    const first = await sb.run(cmd("0"), crate);
    expect(first.exitCode, text(first.stderr)).toBe(0);
    await sb.stats();
    expect(text((await sb.run(["--explain", ...cmd("0")], crate)).stdout)).toMatch(/^hit: src\/lib\.rs/);
    expect(text((await sb.run(["--explain", ...cmd("2")], crate)).stdout)).toContain("argument opt-level=2 differs (cached entry had opt-level=0)");
    writeFileSync(join(crate, "src/lib.rs"), "pub fn answer() -> u32 { 43 }\n");
    expect(text((await sb.run(["--explain", ...cmd("0")], crate)).stdout)).toContain("the source src/lib.rs changed since the cached entry (content differs)");
  });

  it("in preprocessor mode, runs only the preprocessor and says a header or macro changed", async () => {
    const env = { REPRISE_KEY_MODE: "preprocessor" };
    writeFileSync(join(w, "pp.h"), "#define PP 1\n");
    writeFileSync(join(w, "pp.c"), '#include "pp.h"\nint pp(void) { return PP; }\n');
    const cmd = ["gcc", "-c", "pp.c", "-o", "pp.o"];
    expect((await sb.run(cmd, w, { env })).exitCode).toBe(0);
    await sb.stats();
    expect(text((await explain(cmd, env)).stdout)).toBe("hit: pp.c would be served from the cache (preprocessor mode)\n");
    writeFileSync(join(w, "pp.h"), "#define PP 2\n");
    rmSync(join(w, "pp.o"));
    const r = await explain(cmd, env);
    expect(r.exitCode).toBe(1);
    expect(text(r.stdout)).toContain("the preprocessed text differs from the cached entry's");
    expect(existsSync(join(w, "pp.o"))).toBe(false);
  });

  it("keeps its records small and private, and says when an entry was evicted", async () => {
    const dir = join(sb.cacheDir, "explain");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const log = join(dir, "records.jsonl");
    expect(statSync(log).mode & 0o777).toBe(0o600);
    // One line per stored entry, a few hundred bytes each here.
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines.length).toBe((await sb.stats()).misses);
    for (const line of lines) expect(line.length).toBeLessThan(2048);
    writeFileSync(join(w, "ev.c"), "int ev;\n");
    const cmd = ["gcc", "-c", "ev.c", "-o", "ev.o"];
    expect((await sb.run(cmd, w)).exitCode).toBe(0);
    await sb.stats();
    await sb.run(["--stop-server"], sb.root); // its memory of the entry goes with it
    rmSync(join(sb.cacheDir, "results"), { recursive: true, force: true });
    const r = await explain(cmd);
    expect(text(r.stdout)).toContain("its result is no longer in the cache (evicted or cleared)");
  });

  it("--json gives the same answer for scripts; bad usage exits 2", async () => {
    const r = await explain(["--json", "gcc", "-Iinclude", "-O1", "-c", "uv.c", "-o", "uv.o"]);
    const answer = JSON.parse(text(r.stdout)) as { result: string; reasons: string[] };
    expect(answer.result).toBe("miss");
    expect(answer.reasons).toContain("argument -O1 differs (cached entry had -O2)");
    expect((await explain([])).exitCode).toBe(2);
  });

  it("--clear removes the records with the entries: nothing is recorded, and the next compile records again", async () => {
    const log = join(sb.cacheDir, "explain", "records.jsonl");
    expect(existsSync(log)).toBe(true);
    const cleared = await sb.run(["--clear"], w);
    expect(cleared.exitCode, text(cleared.stderr)).toBe(0);
    expect(existsSync(log)).toBe(false);
    rmSync(join(w, "uv.o"), { force: true });
    const r = await explain(compile);
    expect(r.exitCode).toBe(1);
    expect(text(r.stdout)).toContain("no cached entry of uv.c compiled by");
    // The next compile is a miss, stores and records again; its object is the plain compile's.
    const before = await sb.stats();
    const miss = await sb.run(compile, w);
    expect(miss.exitCode, text(miss.stderr)).toBe(0);
    expect((await sb.stats()).misses - before.misses).toBe(1);
    const ref = await plain("gcc", ["-Iinclude", "-O2", "-c", "uv.c", "-o", "ref.o"], w);
    expect(ref.exitCode).toBe(0);
    expect(readFileSync(join(w, "uv.o")).equals(readFileSync(join(w, "ref.o")))).toBe(true);
    expect(readFileSync(log, "utf8").trim().split("\n")).toHaveLength(1);
    expect(text((await explain(compile)).stdout)).toMatch(/^hit: /);
  });
});

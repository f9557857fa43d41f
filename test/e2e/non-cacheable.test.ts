import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "src");
  mkdirSync(w, { recursive: true });
  writeFileSync(join(w, "main.c"), '#include <stdio.h>\nint helper(void);\nint main(void) { printf("%d\\n", helper()); return 0; }\n');
  writeFileSync(join(w, "helper.c"), "int helper(void) { return 41 + 1; }\n");
  writeFileSync(join(w, "notes.txt"), "not a source\n");
  writeFileSync(join(w, "rsp.txt"), "-c rsp_only.c -o rsp.o\n");
  writeFileSync(join(w, "rsp_only.c"), "int only_via_rsp(void) { return 5; }\n");
  writeFileSync(join(w, "time.c"), 'const char *t = __TIME__;\n');
  writeFileSync(join(w, "date.c"), 'const char *d = __DATE__;\n');
});

afterAll(async () => {
  await sb.dispose();
});

/** Runs the call through Reprise and checks stats counted it as not cacheable with `reason`. */
async function expectNotCacheable(argv: string[], reason: string, outputs: string[], opts: { input?: string } = {}) {
  const before = (await sb.stats()).notCacheable[reason] ?? 0;
  if (opts.input === undefined) await expectSameAsPlain(sb, w, argv, outputs);
  else {
    const r = await sb.run(argv, w, { input: opts.input });
    expect(r.exitCode).toBe(0);
  }
  const after = (await sb.stats()).notCacheable[reason] ?? 0;
  expect(after - before, `calls counted as "${reason}"`).toBeGreaterThanOrEqual(1);
}

describe("calls that are run as if Reprise were not there, and counted", () => {
  it("linking", async () => {
    await expectNotCacheable(["gcc", "main.c", "helper.c", "-o", "prog"], "linking", ["prog"]);
    await expectNotCacheable(["gcc", "-c", "main.c", "helper.c"], "multiple-sources", ["main.o", "helper.o"]);
    await sb.run(["gcc", "-c", "main.c", "-o", "main.o"], w);
    await sb.run(["gcc", "-c", "helper.c", "-o", "helper.o"], w);
    await expectNotCacheable(["gcc", "main.o", "helper.o", "-o", "prog2"], "linking", ["prog2"]);
  });
  it("preprocessing only (-E) writes the same text to stdout", async () => {
    await expectNotCacheable(["gcc", "-E", "main.c"], "preprocess-only", []);
  });
  it("dependencies only (-M)", async () => {
    await expectNotCacheable(["gcc", "-M", "main.c"], "dependencies-only", []);
  });
  it("a source read from stdin", async () => {
    const before = (await sb.stats()).notCacheable["stdin-source"] ?? 0;
    const r = await sb.run(["gcc", "-x", "c", "-c", "-", "-o", "stdin.o"], w, { input: "int from_stdin(void) { return 1; }\n" });
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect((await sb.stats()).notCacheable["stdin-source"] ?? 0).toBe(before + 1);
  });
  it("an unknown language", async () => {
    await expectNotCacheable(["gcc", "-c", "notes.txt", "-o", "notes.o"], "unsupported-language", ["notes.o"]);
  });
  it("profile-directed optimisation (-fprofile-use reads .gcda files the key cannot see; -fprofile-generate is cached)", async () => {
    await expectNotCacheable(["gcc", "-fprofile-use", "-Wno-missing-profile", "-c", "helper.c", "-o", "prof.o"], "profile-data", ["prof.o"]);
  });
  it("__TIME__ in the source", async () => {
    await expectNotCacheable(["gcc", "-c", "time.c", "-o", "time.o"], "time-macro", []);
  });
  it("an unreadable response file", async () => {
    await expectNotCacheable(["gcc", "@missing.rsp"], "response-file", []);
  });
  it("a readable response file is expanded and cached", async () => {
    await sb.zeroStats();
    await expectSameAsPlain(sb, w, ["gcc", "@rsp.txt"], ["rsp.o"]);
    const s = await sb.stats();
    expect(s.misses + s.hitsDirect).toBe(2);
    expect(s.hitsDirect).toBe(1);
  });
  it("__DATE__ is cached for the day", async () => {
    await sb.zeroStats();
    await expectSameAsPlain(sb, w, ["gcc", "-c", "date.c", "-o", "date.o"], ["date.o"]);
    expect((await sb.stats()).hitsDirect).toBe(1);
  });
  it("REPRISE_DISABLE runs everything plainly", async () => {
    await sb.zeroStats();
    await expectSameAsPlain(sb, w, ["gcc", "-c", "helper.c", "-o", "dis.o"], ["dis.o"], { REPRISE_DISABLE: "1" });
    const s = await sb.stats();
    expect(s.notCacheable.disabled).toBe(2);
    expect(s.hitsDirect + s.misses).toBe(0);
  });
});

describe("outputs that are not regular files", () => {
  it("-o /dev/null compiles plainly and leaves /dev/null a device", async () => {
    const before = (await sb.stats()).notCacheable;
    const r = await sb.run(["gcc", "-c", "helper.c", "-o", "/dev/null"], w);
    expect(r.exitCode).toBe(0);
    const { statSync } = await import("node:fs");
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
    const after = (await sb.stats()).notCacheable;
    const counted = Object.keys(after).some((k) => (after[k] ?? 0) > (before[k] ?? 0));
    expect(counted).toBe(true);
  });
});

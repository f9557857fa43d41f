import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * A `-MMD` miss (automake, CMake) learns every file it read — system headers,
 * which the user's dependency file leaves out, included — from its own
 * compile: GCC through the read tracer preloaded into cc1, clang through
 * cc1's dependency graph. No second `-M` scan runs, and the object, the
 * user's `.d` and stderr are the bytes of a plain compile, with `-g`.
 */
let sb: RepriseSandbox;
let w: string;

const SOURCE = `#include <stdio.h>
#include "guarded.h"
#include "guarded.h"
#include "once.h"
#include "noguard.h"
#include "noguard.h"
#include <sysdir.h>
#include "user-system.h"
#pragma message "compiled through reprise"
int main(void) { int unset; printf("%d %d\\n", guarded() + once() + noguard() + sysdir() + inner(), unset); return 0; }
`;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "proj");
  mkdirSync(join(w, "inc"), { recursive: true });
  mkdirSync(join(w, "sys"), { recursive: true });
  writeFileSync(join(w, "inc/guarded.h"), "#ifndef GUARDED_H\n#define GUARDED_H\nstatic inline int guarded(void) { return 1; }\n#endif\n");
  writeFileSync(join(w, "inc/once.h"), "#pragma once\nstatic inline int once(void) { return 2; }\n");
  writeFileSync(join(w, "inc/noguard.h"), "int noguard(void);\n");
  // A header of an -isystem directory, and one that makes itself a system header: what either includes is left out of -MMD.
  writeFileSync(join(w, "sys/sysdir.h"), '#include "sysdir-inner.h"\n');
  writeFileSync(join(w, "sys/sysdir-inner.h"), "static inline int sysdir(void) { return 3; }\n");
  writeFileSync(join(w, "inc/user-system.h"), '#pragma GCC system_header\n#include "user-system-inner.h"\n');
  writeFileSync(join(w, "inc/user-system-inner.h"), "static inline int inner(void) { return 4; }\n");
});

afterAll(async () => {
  await sb.dispose();
});

const OUTPUTS = ["out/main.o", "out/main.d"];

function argv(cc: string, extra: string[] = []): string[] {
  return [cc, "-g", "-O1", "-Wall", "-Iinc", "-isystem", "sys", ...extra, "-c", "main.c", "-o", "out/main.o", "-MMD", "-MP", "-MT", "objs/main.o", "-MF", "out/main.d"];
}

/** A plain compile's outputs and stderr, then Reprise's of the same command, compared byte for byte; the stats' change. */
async function compileAndCompare(cmd: string[], env: Record<string, string> = {}) {
  mkdirSync(join(w, "out"), { recursive: true });
  const clean = () => OUTPUTS.forEach((f) => rmSync(join(w, f), { force: true }));
  clean();
  const ref = await plain(cmd[0]!, cmd.slice(1), w);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  const want = OUTPUTS.map((f) => readFileSync(join(w, f)));
  clean();
  const before = await sb.stats();
  const got = await sb.run(cmd, w, { env });
  expect(got.exitCode, text(got.stderr)).toBe(0);
  expect(text(got.stderr)).toBe(text(ref.stderr));
  expect(text(got.stdout)).toBe(text(ref.stdout));
  OUTPUTS.forEach((f, i) => expect(readFileSync(join(w, f)).equals(want[i]!), `${f} is byte-identical to a plain compile`).toBe(true));
  const after = await sb.stats();
  return {
    direct: after.hitsDirect - before.hitsDirect,
    misses: after.misses - before.misses,
    fromCompile: after.dependencyLists.fromCompile - before.dependencyLists.fromCompile,
    scans: after.dependencyLists.scans - before.dependencyLists.scans,
    plainStderr: text(ref.stderr),
    userDep: want[1]!.toString("utf8"),
  };
}

/** A compiler that logs each of its command lines, then runs the real one: scans show as `-M` runs. */
function loggingCompiler(cc: string): { path: string; scans: () => number } {
  const dir = join(w, `logging-${cc}`);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "calls.log");
  const path = join(dir, cc);
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/${cc} "$@"\n`);
  chmodSync(path, 0o755);
  const scans = () => readFileSync(log, { encoding: "utf8", flag: "a+" }).split("\n").filter((l) => l.split(" ").includes("-M")).length;
  return { path, scans };
}

describe.each(["gcc", "clang"])("%s -MMD -MP -MT with -g", (cc) => {
  it("a cold miss lists what it read in its own compile; outputs, .d and stderr are a plain compile's", async () => {
    writeFileSync(join(w, "main.c"), `/* ${cc} */\n${SOURCE}`);
    const compiler = loggingCompiler(cc);
    const r = await compileAndCompare(argv(compiler.path));
    expect(r).toMatchObject({ misses: 1, fromCompile: 1, scans: 0 });
    expect(compiler.scans(), "no -M scan ran beside the compile").toBe(0);
    // What this covers: warnings and a #pragma message on stderr, system headers left out of the user's file.
    expect(r.plainStderr).toMatch(/uninitialized/);
    expect(r.plainStderr).toMatch(/compiled through reprise/);
    expect(r.userDep).toContain("inc/user-system.h");
    expect(r.userDep).not.toContain("user-system-inner.h");
    expect(r.userDep).not.toContain("sysdir");
    expect(r.userDep).not.toContain("stdio.h");
    expect((await compileAndCompare(argv(compiler.path))).direct).toBe(1);
    // The human stats say it too.
    expect(text((await sb.run(["--show-stats"], w)).stdout)).toMatch(/files read, listed by the compile \/ scanned +[1-9]\d* \/ \d+/);
  });

  it.each(["sys/sysdir-inner.h", "inc/user-system-inner.h", "inc/once.h"])("the manifest knows %s: an edit misses, the old content hits again", async (header) => {
    writeFileSync(join(w, "main.c"), `/* ${cc} */\n${SOURCE}`);
    const original = readFileSync(join(w, header));
    // The entry of the original content (a miss the first time only).
    expect((await compileAndCompare(argv(cc))).scans).toBe(0);
    try {
      appendFileSync(join(w, header), "static inline int edited(void) { return 5; }\n");
      expect(await compileAndCompare(argv(cc))).toMatchObject({ misses: 1, direct: 0, scans: 0 });
    } finally {
      writeFileSync(join(w, header), original);
    }
    expect(await compileAndCompare(argv(cc))).toMatchObject({ misses: 0, direct: 1 });
  });
});

describe("when the compile cannot list what it read, the scan runs as before", () => {
  it("gcc under a read trace the caller set up itself", async () => {
    writeFileSync(join(w, "main.c"), `/* gcc, traced by the caller */\n${SOURCE}`);
    const theirs = join(w, "their-trace.txt");
    expect(await compileAndCompare(argv("gcc"), { REPRISE_READ_TRACE: theirs })).toMatchObject({ misses: 1, fromCompile: 0, scans: 1 });
  });

  it("clang with -include (its graph leaves a forced include out)", async () => {
    writeFileSync(join(w, "main.c"), `/* clang, forced include */\n${SOURCE}`);
    writeFileSync(join(w, "inc/forced.h"), "#define FORCED 1\n");
    expect(await compileAndCompare(argv("clang", ["-include", "inc/forced.h"]))).toMatchObject({ misses: 1, fromCompile: 0, scans: 1 });
  });

  it("gcc -no-integrated-cpp (two cc1 runs, one preprocessing to a temporary file: the trace is not taken)", async () => {
    writeFileSync(join(w, "main.c"), `/* gcc, separate preprocessor */\n${SOURCE}`);
    expect(await compileAndCompare(argv("gcc", ["-no-integrated-cpp"]))).toMatchObject({ misses: 1, fromCompile: 0, scans: 1 });
    expect(await compileAndCompare(argv("gcc", ["-no-integrated-cpp"]))).toMatchObject({ direct: 1 });
  });
});

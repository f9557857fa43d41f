// The daemon's compiler launcher (`reprise-native --spawn-helper`): every
// command it runs gives what a plain spawn from the daemon gives — exit
// status, stdout and stderr bytes, environment, working directory, PATH
// lookup — and when it dies, pending and later commands run without it.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { getPriority, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCompiler, useSpawnHelper, type CompilerRun } from "../../src/engine/run-compiler.js";
import { SpawnHelper } from "../../src/engine/spawn-helper.js";
import { Logger } from "../../src/util/logger.js";

const BUILT = resolve(import.meta.dirname, "../../dist/native/reprise-native");
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LC_ALL: "C" };

let root: string;
let temp: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "reprise-spawn-helper-"));
  temp = join(root, "tmp");
  mkdirSync(temp, { mode: 0o700 });
  writeFileSync(join(root, "ok.c"), "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n");
  writeFileSync(join(root, "warn.c"), "int f(int a) { int unused; if (a = 1) return 2; return 0; }\n");
  writeFileSync(join(root, "bad.c"), "int f(void) { return nope; }\n");
});

const started: SpawnHelper[] = [];

afterEach(() => {
  useSpawnHelper(undefined);
  for (const h of started.splice(0)) h.close();
});

afterAll(() => {
  useSpawnHelper(undefined);
  rmSync(root, { recursive: true, force: true });
});

function helper(): SpawnHelper {
  const h = new SpawnHelper(BUILT, temp, new Logger("error"));
  started.push(h);
  useSpawnHelper(h);
  return h;
}

/** Runs the same command through a plain spawn and through the helper. */
async function both(argv: string[], cwd = root, env: Record<string, string> = ENV): Promise<[CompilerRun, CompilerRun]> {
  useSpawnHelper(undefined);
  const plainRun = await runCompiler(argv, cwd, env);
  helper();
  return [plainRun, await runCompiler(argv, cwd, env)];
}

describe("the spawn helper", () => {
  it("compiles the same object, with the same diagnostics and exit status, as a plain spawn", async () => {
    for (const [source, out] of [["ok.c", "ok"], ["warn.c", "warn"], ["bad.c", "bad"]] as const) {
      useSpawnHelper(undefined);
      const a = await runCompiler(["gcc", "-O2", "-Wall", "-c", source, "-o", `${out}-a.o`], root, ENV);
      helper();
      const b = await runCompiler(["gcc", "-O2", "-Wall", "-c", source, "-o", `${out}-b.o`], root, ENV);
      expect(b.exitCode, source).toBe(a.exitCode);
      expect(b.stderr.toString(), source).toBe(a.stderr.toString().replaceAll(`${out}-a.o`, `${out}-b.o`));
      if (a.exitCode === 0) expect(readFileSync(join(root, `${out}-b.o`)).equals(readFileSync(join(root, `${out}-a.o`))), source).toBe(true);
    }
    expect((await both(["gcc", "-c", "bad.c", "-o", "bad.o"]))[1].exitCode).toBe(1);
  });

  it("returns a large stdout byte for byte (a preprocessed text)", async () => {
    writeFileSync(join(root, "big.c"), "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n");
    const [a, b] = await both(["gcc", "-E", "big.c"]);
    expect(b.exitCode).toBe(0);
    expect(b.stdout.length).toBeGreaterThan(10_000);
    expect(b.stdout.equals(a.stdout)).toBe(true);
  });

  it("gives the command exactly its environment and working directory, and finds it on that environment's PATH", async () => {
    const bin = join(root, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "show-env"), '#!/bin/sh\nprintf "%s|%s|%s" "$FOO" "$(pwd)" "$(env | sort | tr "\\n" ",")"\necho oops >&2\nexit 3\n');
    chmodSync(join(bin, "show-env"), 0o755);
    const env = { PATH: `${bin}:/usr/bin:/bin`, FOO: "a b\nc" };
    const [a, b] = await both(["show-env"], bin, env);
    expect(b.exitCode).toBe(3);
    expect(b.stdout.toString()).toBe(a.stdout.toString());
    expect(b.stdout.toString()).toContain(`a b\nc|${bin}|`);
    expect(b.stderr.toString()).toBe("oops\n");
  });

  it("a command that does not exist exits 127 with a message, as a plain spawn does", async () => {
    const [a, b] = await both(["no-such-compiler-here"]);
    expect([a.exitCode, b.exitCode]).toEqual([127, 127]);
    expect(b.stderr.toString()).toBe(a.stderr.toString());
  });

  it("runs low-priority work at nice 19, and other work at the daemon's own", async () => {
    helper();
    const low = await runCompiler(["sh", "-c", "nice"], root, ENV, { lowPriority: true });
    const normal = await runCompiler(["sh", "-c", "nice"], root, ENV);
    expect(low.stdout.toString().trim()).toBe("19");
    expect(normal.stdout.toString().trim()).toBe(String(getPriority()));
  });

  it("keeps concurrent commands' outputs apart", async () => {
    helper();
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => runCompiler(["sh", "-c", `sleep 0.0${i % 5}; echo out${i}; echo err${i} >&2; exit ${i}`], root, ENV)));
    runs.forEach((r, i) => expect([r.exitCode, r.stdout.toString(), r.stderr.toString()]).toEqual([i, `out${i}\n`, `err${i}\n`]));
    // The files the outputs went through are gone once read.
    expect(readdirSync(temp)).toEqual([]);
  });

  it("when the helper dies, a pending command runs again without it, and so do later ones", async () => {
    const h = helper();
    const marker = join(root, "runs.log");
    rmSync(marker, { force: true });
    const pending = runCompiler(["sh", "-c", `echo run >> ${marker}; sleep 2; echo finished`], root, ENV);
    // The helper has started the command once its first line is written.
    for (let i = 0; i < 200 && !readFileSync(marker, { flag: "a+" }).length; i++) await new Promise((r) => setTimeout(r, 25));
    expect(h.pid).toBeGreaterThan(0);
    process.kill(h.pid!, "SIGKILL");
    const r = await pending;
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, "finished\n"]);
    expect(readFileSync(marker, "utf8")).toBe("run\nrun\n");
    const later = await runCompiler(["sh", "-c", "echo later"], root, ENV);
    expect(later.stdout.toString()).toBe("later\n");
  });
});

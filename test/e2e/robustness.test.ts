import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fg from "fast-glob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPRISE_BIN, RepriseSandbox, plain, runningDaemonPid, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "src");
  mkdirSync(w, { recursive: true });
  writeFileSync(join(w, "a.c"), "#include <string.h>\nint a(const char *s) { return (int)strlen(s); }\n");
});

afterAll(async () => {
  await sb.dispose();
});

describe("the cache misbehaves", () => {
  it("a corrupt entry is a miss, is replaced, and the object is still right", async () => {
    await expectSameAsPlain(sb, w, ["gcc", "-O2", "-c", "a.c", "-o", "a.o"], ["a.o"]);
    await sb.idleCopiesMade(w);
    const results = await fg("results/**/*", { cwd: sb.cacheDir, absolute: true });
    expect(results.length).toBeGreaterThan(0);
    for (const file of results) {
      const data = readFileSync(file);
      data[Math.floor(data.length / 2)]! ^= 0xff;
      writeFileSync(file, data);
    }
    // A new daemon: the old one remembers recent entries decoded and would not read the file again.
    await sb.run(["--stop-server"], sb.root);
    await sb.zeroStats();
    await expectSameAsPlain(sb, w, ["gcc", "-O2", "-c", "a.c", "-o", "a.o"], ["a.o"]);
    const s = await sb.stats();
    // The result and its copy under the preprocessed text's key (the direct-mode fallback looks there next).
    expect(s.errors["corrupt-entry"]).toBe(2);
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(1);
  });

  it("a large object is stored uncompressed (format 4: copied by the kernel), hits byte for byte, and a byte flipped inside it is a miss", async () => {
    const dir = join(sb.root, "big");
    mkdirSync(dir);
    // 1.5 MiB of initialized data: an object past the size from which entries are stored raw.
    writeFileSync(join(dir, "big.c"), "const unsigned char big[1572864] = { 1, 2, 3 };\nint first(void) { return big[0]; }\n");
    await expectSameAsPlain(sb, dir, ["gcc", "-c", "big.c", "-o", "big.o"], ["big.o"]);
    expect(statSync(join(dir, "big.o")).size).toBeGreaterThan(1024 * 1024);
    await sb.idleCopiesMade(dir);
    const raw = (await fg("results/**/*", { cwd: sb.cacheDir, absolute: true })).filter((f) => {
      const data = readFileSync(f);
      return data.length > 1024 * 1024 && data.toString("latin1", data.length - 4) === "RPRt" && data.readUInt32BE(data.length - 8) === 4;
    });
    expect(raw.length).toBeGreaterThan(0);
    // Stored as is, first: the object's bytes begin the entry.
    const object = readFileSync(join(dir, "big.o"));
    expect(readFileSync(raw[0]!).subarray(0, object.length).equals(object)).toBe(true);
    for (const file of raw) {
      const data = readFileSync(file);
      data[Math.floor(data.length / 2)]! ^= 0xff;
      writeFileSync(file, data);
    }
    await sb.run(["--stop-server"], sb.root);
    await sb.zeroStats();
    await expectSameAsPlain(sb, dir, ["gcc", "-c", "big.c", "-o", "big.o"], ["big.o"]);
    const s = await sb.stats();
    expect(s.errors["corrupt-entry"]).toBe(raw.length);
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(1);
  });

  it("a cache directory that cannot be created does not fail the build", async () => {
    writeFileSync(join(sb.root, "not-a-dir"), "x");
    await expectSameAsPlain(sb, w, ["gcc", "-c", "a.c", "-o", "ro.o"], ["ro.o"], { REPRISE_DIR: join(sb.root, "not-a-dir", "cache") });
  });
});

describe("the daemon misbehaves", () => {
  it("an unreachable daemon (runtime dir unusable) means a plain compile", async () => {
    writeFileSync(join(sb.root, "blocker"), "");
    await expectSameAsPlain(sb, w, ["gcc", "-c", "a.c", "-o", "u.o"], ["u.o"], { REPRISE_RUNTIME_DIR: join(sb.root, "blocker", "run") });
  });

  it("a daemon killed mid-build: every compile still succeeds", async () => {
    const dir = join(sb.root, "killed");
    mkdirSync(dir);
    const n = 24;
    for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${i}.c`), `#include <stdio.h>\nint f${i}(void) { return printf("${i}"); }\n`);
    const rules = Array.from({ length: n }, (_, i) => `f${i}.o: f${i}.c\n\t$(CC) -O2 -c $< -o $@\n`).join("");
    writeFileSync(join(dir, "Makefile"), `all: ${Array.from({ length: n }, (_, i) => `f${i}.o`).join(" ")}\n${rules}`);
    const build = plain("make", ["-j2", `CC=${process.execPath} ${REPRISE_BIN} gcc`], dir, sb.env());
    // Kill the daemon as soon as it is up, while make is running.
    let killed = false;
    for (let i = 0; i < 400 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const pid = runningDaemonPid(sb.runtimeDir);
      if (pid) {
        process.kill(pid, "SIGKILL");
        killed = true;
      }
    }
    const r = await build;
    expect(killed).toBe(true);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    for (let i = 0; i < n; i++) expect(statSync(join(dir, `f${i}.o`)).size).toBeGreaterThan(0);
  });
});

describe("masquerading", () => {
  it("a gcc link to reprise early on PATH finds the real gcc and caches", async () => {
    const links = join(sb.root, "links");
    mkdirSync(links, { recursive: true });
    symlinkSync(REPRISE_BIN, join(links, "gcc"));
    const env = { ...sb.env(), PATH: `${links}:${process.env.PATH}` };
    const ref = await plain("/usr/bin/gcc", ["-g", "-c", "a.c", "-o", "m.o"], w);
    const refObj = readFileSync(join(w, "m.o"));
    await sb.zeroStats();
    for (let i = 0; i < 2; i++) {
      rmSync(join(w, "m.o"));
      const r = await plain("gcc", ["-g", "-c", "a.c", "-o", "m.o"], w, env);
      expect(r.exitCode, text(r.stderr)).toBe(ref.exitCode);
      expect(readFileSync(join(w, "m.o")).equals(refObj)).toBe(true);
    }
    const s = await sb.stats();
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(1);
  });
});

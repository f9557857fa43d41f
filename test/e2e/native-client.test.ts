// The native client (dist/native/reprise-native) in front of the real daemon
// and compilers: the key cases of the Node client's suite, its fallbacks, and
// what it saves per call. The whole suite runs through it with
// REPRISE_TEST_CLIENT=native.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { patchBuiltCore } from "../support/built-core.js";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, REPRISE_BIN, REPRISE_LAUNCHER, REPRISE_NATIVE_BIN, RepriseSandbox, plain, runningDaemonPid, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

let sb: RepriseSandbox;
let w: string;

const built = existsSync(REPRISE_NATIVE_BIN);

async function daemonInfo(): Promise<{ version: string; pid: number }> {
  const r = await sb.run(["--show-stats", "--json"], sb.root);
  return JSON.parse(text(r.stdout)) as { version: string; pid: number };
}

/** Runs the Node client directly (not through the sandbox's client). */
function nodeClient(args: string[], cwd: string, env: Record<string, string> = {}) {
  return execa(process.execPath, [REPRISE_BIN, ...args], { cwd, env: sb.env(env), extendEnv: false, reject: false, encoding: "buffer", stripFinalNewline: false });
}

/** A copy of the built package whose daemon speaks another release or protocol version. */
function otherCore(patch: { version?: string; protocol?: number }): string {
  mkdirSync(join(REPO_ROOT, ".test-tmp"), { recursive: true });
  const old = mkdtempSync(join(REPO_ROOT, ".test-tmp", "other-core-"));
  cpSync(join(REPO_ROOT, "packages/core/dist"), join(old, "dist"), { recursive: true });
  patchBuiltCore(join(old, "dist"), patch);
  return old;
}

describe("native client", () => {
  it("was built by the build (npm run build compiles it with the system C compiler)", () => {
    expect(built, `${REPRISE_NATIVE_BIN} is missing: is there a C compiler?`).toBe(true);
  });

  beforeAll(() => {
    sb = new RepriseSandbox({}, "native");
    w = join(sb.root, "src");
    mkdirSync(join(w, "include"), { recursive: true });
    writeFileSync(join(w, "include/config.h"), "#define ANSWER 42\n");
    writeFileSync(join(w, "hello.c"), '#include <stdio.h>\n#include "config.h"\nint main(void) { printf("%d\\n", ANSWER); return 0; }\n');
    writeFileSync(join(w, "vec.cpp"), '#include <vector>\n#include <string>\n#include "config.h"\nstd::vector<std::string> v;\nint f() { v.push_back("x"); return ANSWER; }\n');
    writeFileSync(join(w, "warn.c"), "int f(int a) { int unused; if (a = 1) return 2; }\n");
    writeFileSync(join(w, "broken.c"), "int f( { return 1 }\n");
    for (let i = 0; i < 4; i++) writeFileSync(join(w, `s${i}.c`), `int s${i}(void) { return ${i}; }\n`);
  });

  afterAll(async () => {
    await sb?.dispose();
  });

  describe("compiles", () => {
    it.each([
      ["gcc", "hello.c"],
      ["clang++", "vec.cpp"],
    ])("%s %s: miss and hit give the plain compile's object, with debug info", async (cc, src) => {
      await sb.zeroStats();
      const obj = src.replace(/\.\w+$/, ".o");
      await expectSameAsPlain(sb, w, [cc, "-g", "-O2", "-Iinclude", "-c", src, "-o", obj], [obj]);
      const s = await sb.stats();
      expect(s.misses).toBe(1);
      expect(s.hitsDirect).toBe(1);
    });

    it("a miss through the Node client is a hit through the native one (same request, same key)", async () => {
      await sb.zeroStats();
      writeFileSync(join(w, "shared.c"), "int shared(void) { return 3; }\n");
      expect((await nodeClient(["gcc", "-c", "shared.c", "-o", "shared.o"], w)).exitCode).toBe(0);
      rmSync(join(w, "shared.o"));
      expect((await sb.run(["gcc", "-c", "shared.c", "-o", "shared.o"], w)).exitCode).toBe(0);
      const s = await sb.stats();
      expect(s.misses).toBe(1);
      expect(s.hitsDirect).toBe(1);
    });

    it("warnings are replayed on a hit", async () => {
      const { second } = await expectSameAsPlain(sb, w, ["gcc", "-Wall", "-c", "warn.c", "-o", "warn.o"], ["warn.o"]);
      expect(second.stderr).toContain("warning");
    });

    it("a failing compile fails with the compiler's status and messages", async () => {
      const { second } = await expectSameAsPlain(sb, w, ["gcc", "-c", "broken.c", "-o", "broken.o"], ["broken.o"]);
      expect(second.exitCode).not.toBe(0);
    });

    it("a call the daemon hands back runs here, with stdin and the real exit status (linking, -E, stdin source)", async () => {
      await expectSameAsPlain(sb, w, ["gcc", "hello.c", "-Iinclude", "-o", "hello"], ["hello"]);
      await expectSameAsPlain(sb, w, ["gcc", "-E", "-Iinclude", "hello.c"], []);
      const r = await sb.run(["gcc", "-x", "c", "-c", "-", "-o", "stdin.o"], w, { input: "int from_stdin(void) { return 1; }\n" });
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(statSync(join(w, "stdin.o")).size).toBeGreaterThan(0);
      const missing = await sb.run(["no-such-compiler", "-c", "hello.c"], w);
      expect(missing.exitCode).toBe(127);
    });

    it("on a terminal, a hit replays the compiler's colors", async () => {
      const underTty = (cmd: string) => plain("script", ["-qec", cmd, "/dev/null"], w, { ...sb.env(), TERM: "xterm" });
      const ref = text((await underTty("gcc -Wall -c warn.c -o warn-tty.o")).stdout);
      expect(ref).toContain("\u001b[");
      const cmd = `${REPRISE_NATIVE_BIN} gcc -Wall -c warn.c -o warn-tty.o`;
      expect(text((await underTty(cmd)).stdout)).toBe(ref);
      expect(text((await underTty(cmd)).stdout)).toBe(ref);
    });
  });

  describe("as a compiler link", () => {
    it.each([
      ["the native binary", REPRISE_NATIVE_BIN],
      ["the sh launcher", REPRISE_LAUNCHER],
    ])("a gcc link to %s early on PATH finds the real gcc and caches", async (label, target) => {
      const links = join(sb.root, `links-${label.replace(/\W/g, "")}`);
      mkdirSync(links, { recursive: true });
      symlinkSync(target, join(links, "gcc"));
      const env = { ...sb.env(), PATH: `${links}:${process.env.PATH}` };
      await plain("/usr/bin/gcc", ["-g", "-c", "hello.c", "-Iinclude", "-o", "m.o"], w);
      const refObj = readFileSync(join(w, "m.o"));
      await sb.zeroStats();
      for (let i = 0; i < 2; i++) {
        rmSync(join(w, "m.o"));
        const r = await plain("gcc", ["-g", "-c", "hello.c", "-Iinclude", "-o", "m.o"], w, env);
        expect(r.exitCode, text(r.stderr)).toBe(0);
        expect(readFileSync(join(w, "m.o")).equals(refObj)).toBe(true);
      }
      // Linking is handed back: run here with the real gcc, past the link's directory.
      const link = await plain("gcc", ["hello.c", "-Iinclude", "-o", "m-prog"], w, env);
      expect(link.exitCode, text(link.stderr)).toBe(0);
      // Both links call the same gcc the same way: the second link's first call may already hit.
      const s = await sb.stats();
      expect(s.misses + s.hitsDirect).toBe(2);
      expect(s.hitsDirect).toBeGreaterThanOrEqual(1);
    });
  });

  describe("reprise link-compilers", () => {
    it("makes a directory of links straight to the native client: compiler links and `reprise` itself cache", async () => {
      const dir = join(sb.root, "linked");
      const made = await sb.run(["link-compilers", dir, "gcc", "g++"], sb.root);
      expect(made.exitCode, text(made.stderr)).toBe(0);
      expect(text(made.stdout)).toContain("native client");
      for (const name of ["reprise", "gcc", "g++"]) expect(realpathSync(join(dir, name))).toBe(realpathSync(REPRISE_NATIVE_BIN));
      expect(existsSync(join(dir, "clang"))).toBe(false);
      // Running it again replaces its own links; a file that is not a link is never replaced.
      expect((await sb.run(["link-compilers", dir, "gcc"], sb.root)).exitCode).toBe(0);
      writeFileSync(join(dir, "cc"), "not a link\n");
      const refused = await sb.run(["link-compilers", dir, "cc"], sb.root);
      expect(refused.exitCode).toBe(1);
      expect(text(refused.stderr)).toMatch(/cc exists and is not a link/);
      expect(readFileSync(join(dir, "cc"), "utf8")).toBe("not a link\n");
      expect((await sb.run(["link-compilers", dir, "../gcc"], sb.root)).exitCode).toBe(2);

      const env = { ...sb.env(), PATH: `${dir}:${process.env.PATH}` };
      await plain("/usr/bin/g++", ["-g", "-c", "vec.cpp", "-Iinclude", "-o", "lk.o"], w);
      const ref = readFileSync(join(w, "lk.o"));
      await sb.zeroStats();
      for (const argv of [["g++"], ["reprise", "g++"], ["g++"]]) {
        rmSync(join(w, "lk.o"));
        const r = await plain(argv[0]!, [...argv.slice(1), "-g", "-c", "vec.cpp", "-Iinclude", "-o", "lk.o"], w, env);
        expect(r.exitCode, text(r.stderr)).toBe(0);
        expect(readFileSync(join(w, "lk.o")).equals(ref)).toBe(true);
      }
      const s = await sb.stats();
      expect(s.misses).toBe(1);
      expect(s.hitsDirect).toBe(2);
      // Administrative commands through the linked `reprise` still reach the Node client.
      expect(text((await plain("reprise", ["--version"], w, env)).stdout).trim()).toMatch(/^\d+\.\d+\.\d+/);
    });
  });

  describe("the daemon", () => {
    it("absent: the Node client starts it, and the native client uses it from then on", async () => {
      await sb.run(["--stop-server"], sb.root);
      expect(existsSync(join(sb.runtimeDir, "daemon.sock"))).toBe(false);
      await expectSameAsPlain(sb, w, ["gcc", "-c", "s0.c", "-o", "s0.o"], ["s0.o"]);
      expect(existsSync(join(sb.runtimeDir, "daemon.sock"))).toBe(true);
    });

    it.each([
      ["release", { version: "0.0.1-old" }],
      ["protocol", { protocol: 99 }],
    ] as const)("of another %s version is replaced by the client's own", async (_label, patch) => {
      await sb.run(["--stop-server"], sb.root);
      const old = otherCore(patch);
      try {
        const oldClient = join(old, "dist/bin/reprise.js");
        const start = await execa(process.execPath, [oldClient, "--start-server"], { env: sb.env({ REPRISE_LOG: "info" }), reject: false });
        expect(start.exitCode, start.stderr).toBe(0);
        const oldPid = (JSON.parse((await execa(process.execPath, [oldClient, "--show-stats", "--json"], { env: sb.env() })).stdout) as { pid: number }).pid;
        await expectSameAsPlain(sb, w, ["gcc", "-c", "s1.c", "-o", "s1.o"], ["s1.o"]);
        const now = await daemonInfo();
        expect(now.pid).not.toBe(oldPid);
        expect(now.version).not.toBe("0.0.1-old");
        expect(readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8")).toMatch(/client of version .*restarting/);
      } finally {
        rmSync(old, { recursive: true, force: true });
      }
    });

    it("killed mid-build: every compile still succeeds", async () => {
      const dir = join(sb.root, "killed");
      mkdirSync(dir);
      const n = 24;
      for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${i}.c`), `#include <stdio.h>\nint f${i}(void) { return printf("${i}"); }\n`);
      const rules = Array.from({ length: n }, (_, i) => `f${i}.o: f${i}.c\n\t$(CC) -O2 -c $< -o $@\n`).join("");
      writeFileSync(join(dir, "Makefile"), `all: ${Array.from({ length: n }, (_, i) => `f${i}.o`).join(" ")}\n${rules}`);
      await sb.run(["--stop-server"], sb.root);
      const build = plain("make", ["-j2", `CC=${REPRISE_NATIVE_BIN} gcc`], dir, sb.env());
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

    it("unreachable (runtime dir unusable): a plain compile", async () => {
      writeFileSync(join(sb.root, "blocker"), "");
      await expectSameAsPlain(sb, w, ["gcc", "-c", "s2.c", "-o", "u.o"], ["u.o"], { REPRISE_RUNTIME_DIR: join(sb.root, "blocker", "run") });
    });
  });

  describe("administrative commands", () => {
    it("are passed to the Node client", async () => {
      expect(text((await sb.run(["--version"], sb.root)).stdout).trim()).toMatch(/^\d+\.\d+\.\d+/);
      expect((await sb.run(["--start-server"], sb.root)).exitCode).toBe(0);
      expect((await daemonInfo()).pid).toBeGreaterThan(0);
    });
  });

  it("per-call hit time, native vs Node client (printed, not asserted)", async () => {
    writeFileSync(join(w, "timing.c"), "int timing(void) { return 1; }\n");
    const argv = ["gcc", "-c", "timing.c", "-o", "timing.o"];
    await sb.run(argv, w);
    const node = new RepriseSandbox({ REPRISE_DIR: sb.cacheDir, REPRISE_RUNTIME_DIR: sb.runtimeDir }, "node");
    const median = async (client: RepriseSandbox, n: number) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const r = await client.run(argv, w);
        times.push(performance.now() - t);
        expect(r.exitCode).toBe(0);
      }
      return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
    };
    const plainMs = await (async () => {
      const times: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t = performance.now();
        await plain("gcc", argv.slice(1), w);
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b)[7]!;
    })();
    const nativeMs = await median(sb, 15);
    const nodeMs = await median(node, 15);
    rmSync(node.root, { recursive: true, force: true });
    console.log(`per-call hit (median of 15): native client ${nativeMs.toFixed(1)} ms, Node client ${nodeMs.toFixed(1)} ms; plain gcc compile ${plainMs.toFixed(1)} ms`);
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "@reprise/core";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackages, pgrep } from "../../../test/support/sandbox-engines.js";
import { sandboxScenarios } from "../../../test/support/sandbox-scenarios.js";
import { TEST_LIMITS } from "../../../test/support/sandbox-toolchain.js";
import { InputTreeCache, JobLauncher, nativeClientPath } from "@reprise/core/sandbox-kit";
import bwrapSandboxPlugin, { BwrapSandbox } from "../src/index.js";

/**
 * The bwrap sandbox with a real gcc toolchain root (see sandbox-scenarios.ts
 * for what every sandbox is checked for).
 */

beforeAll(() => ensureDebianPackages(["bubblewrap", "busybox-static"]), 300_000);

const sandbox = new BwrapSandbox();

describe("bwrap sandbox", () => {
  it("is usable here, provided through createSandbox, and says why not when it is not", async () => {
    expect(await sandbox.probe()).toEqual({ usable: true });
    const engine = new Engine();
    engine.use(bwrapSandboxPlugin());
    expect(engine.hooks.createSandbox.call({ name: "bwrap" })).toBeInstanceOf(BwrapSandbox);
    expect(engine.hooks.createSandbox.call({ name: "docker" })).toBeUndefined();
    const bad = engine.hooks.createSandbox.call({ name: "bwrap", options: { colour: "red" } })!;
    expect(await bad.probe()).toEqual({ usable: false, reason: expect.stringContaining('unknown option "colour"') });
    expect(await new BwrapSandbox({ bwrap: "/nonexistent/bwrap" }).probe()).toEqual({ usable: false, reason: "bwrap not found at /nonexistent/bwrap" });
    expect(await new BwrapSandbox({ uid: -1 }).probe()).toEqual({ usable: false, reason: expect.stringContaining('"uid"') });
    // Options shared by several sandboxes: this one's section applies, other sandboxes' sections are left alone.
    expect(await new BwrapSandbox({ docker: { engine: "podman" }, bwrap: { hostname: "builder" } }).probe()).toEqual({ usable: true });
    expect(await new BwrapSandbox({ bwrap: { colour: "red" } }).probe()).toEqual({ usable: false, reason: expect.stringContaining('unknown option "bwrap.colour"') });
    expect(await new BwrapSandbox({ bwrap: { bwrap: "/nonexistent/bwrap" } }).probe()).toEqual({ usable: false, reason: "bwrap not found at /nonexistent/bwrap" });
  });

  const fx = sandboxScenarios({ label: "bwrap", sandbox: () => sandbox, envExtras: (cwd) => [`PWD=${cwd}`], limitsProcesses: true, blocksNestedUserNamespaces: true });

  /** The job cgroups below this process's own (v1 here: one per controller), which must all be gone after each job. */
  const jobCgroups = () => {
    const own = readFileSync("/proc/self/cgroup", "utf8");
    const dirs: string[] = [];
    for (const controller of ["pids", "memory"]) {
      const path = new RegExp(`^\\d+:[^:]*\\b${controller}\\b[^:]*:(.*)$`, "m").exec(own)?.[1] ?? new RegExp("^0::(.*)$", "m").exec(own)?.[1];
      const base = existsSync(`/sys/fs/cgroup/${controller}`) ? `/sys/fs/cgroup/${controller}${path}` : `/sys/fs/cgroup${path}`;
      try {
        dirs.push(...readdirSync(base).filter((n) => n.startsWith(`reprise-job-${process.pid}-`)));
      } catch {
        // no such hierarchy
      }
    }
    return dirs;
  };

  it("stops a fork bomb at the job's process limit, counted for the job as a whole; the host is unaffected and nothing is left", async () => {
    // A static C program that tries to fork 2,000 children which wait forever, and says how many forks succeeded.
    const mark = `forkbomb${process.pid}${Date.now() % 100000}`;
    const src = join(fx.tmp, `${mark}.c`);
    writeFileSync(
      src,
      '#include <stdio.h>\n#include <unistd.h>\nint main(void) { int ok = 0, refused = 0; for (int i = 0; i < 2000; i++) { pid_t p = fork(); if (p == 0) { for (;;) pause(); } if (p > 0) ok++; else refused++; } printf("forked=%d refused=%d\\n", ok, refused); return 0; }\n',
    );
    const bin = join(fx.proj, mark);
    execFileSync("gcc", ["-static", "-O1", "-o", bin, src]);
    chmodSync(bin, 0o755);
    const input = { ...fx.store.put(bin), executable: true };
    const t0 = performance.now();
    const r = await sandbox.run(fx.job([bin], [input], [], { limits: { ...TEST_LIMITS, maxProcesses: 64, timeoutMs: 60_000 } }), fx.materials());
    const ms = performance.now() - t0;
    const m = /forked=(\d+) refused=(\d+)/.exec(r.stdout.toString());
    expect(m, r.stderr.toString()).not.toBeNull();
    // bwrap's pid 1 inside the namespace is one of the 64: the bomb gets at most 63 children.
    expect(Number(m![1])).toBeLessThanOrEqual(64);
    expect(Number(m![2])).toBeGreaterThanOrEqual(2000 - 64);
    expect(r.killed).toBe("process-limit");
    expect(ms, "ended by the process limit, not by the time limit").toBeLessThan(30_000);
    expect(pgrep(mark)).toEqual([]);
    expect(jobCgroups()).toEqual([]);
    expect(spawnSync("true").status, "the host still forks").toBe(0);
  });

  it("kills a job that uses more memory than its limit (its cgroup, not only each process's address space)", async () => {
    // dd reads 200 MB from /dev/zero into one buffer: the pages are touched, so the cgroup's limit is what stops it.
    const hog = "dd if=/dev/zero of=/dev/null bs=200M count=1 2>&1; echo dd=$?";
    const noAs = new BwrapSandbox({ limitAddressSpace: false });
    const r = await noAs.run(fx.sh(hog, { limits: { ...TEST_LIMITS, memoryBytes: 64 * 1024 ** 2 } }), fx.materials());
    expect(r.killed).toBe("memory-limit");
    const fine = await noAs.run(fx.sh(hog, { limits: { ...TEST_LIMITS, memoryBytes: 1024 ** 3 } }), fx.materials());
    expect(fine.killed).toBeUndefined();
    expect(fine.stdout.toString()).toMatch(/dd=0/);
    expect(jobCgroups()).toEqual([]);
  });

  it("removes the empty job cgroups a killed daemon left behind, never a live one's", async () => {
    const own = /^\d+:[^:]*\bpids\b[^:]*:(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1] ?? "/";
    const base = `/sys/fs/cgroup/pids${own}`;
    const dead = spawnSync("true").pid!;
    const stale = join(base, `reprise-job-${dead}-1-test`);
    const live = join(base, `reprise-job-${process.ppid}-1-test`);
    mkdirSync(stale);
    mkdirSync(live);
    try {
      expect(await new BwrapSandbox({ hostname: "sweeper" }).probe()).toEqual({ usable: true });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      for (const d of [stale, live]) if (existsSync(d)) rmdirSync(d);
    }
  });

  it("checks enforceLimits, and runs without a cgroup when it is false", async () => {
    expect(await new BwrapSandbox({ enforceLimits: "yes" }).probe()).toEqual({ usable: false, reason: expect.stringContaining('"enforceLimits"') });
    const forks = fx.sh("for i in $(seq 30); do sleep 1 & done 2>&1; echo end", { limits: { ...TEST_LIMITS, maxProcesses: 16 } });
    const loose = await new BwrapSandbox({ enforceLimits: false }).run(forks, fx.materials());
    expect(loose.killed).toBeUndefined();
    expect(loose.stdout.toString()).toBe("end\n");
    const strict = await sandbox.run(forks, fx.materials());
    expect(strict.killed).toBe("process-limit");
    expect(strict.stdout.toString()).toMatch(/can't fork/);
  });

  it('proc: "bind" (no nested proc mount): the surrounding /proc read-only, every other namespace new, the same compile result', async () => {
    expect(await new BwrapSandbox({ proc: "new" }).probe()).toEqual({ usable: false, reason: expect.stringContaining('"proc"') });
    const bound = new BwrapSandbox({ proc: "bind" });
    expect(await bound.probe()).toEqual({ usable: true });
    const probe = fx.sh("id -u; hostname; cat /proc/self/uid_map | tr -s ' '; echo x > /proc/reprise-test 2>/dev/null && echo wrote-proc; ls /sys/class/net 2>/dev/null | tr '\\n' ' '; echo");
    const r = await bound.run(probe, fx.materials());
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    const [uid, host, uidMap, net] = r.stdout.toString().split("\n");
    expect(uid).toBe("65534");
    expect(host).toBe("reprise");
    expect(uidMap?.trim()).toMatch(/^65534 \d+ 1$/); // a user namespace of its own
    expect(r.stdout.toString()).not.toContain("wrote-proc");
    expect(net?.trim()).not.toMatch(/eth|ens|enp/); // a network namespace of its own (lo only, if any)
    writeFileSync(join(fx.proj, "src/bound.c"), "int bound(int x) { return x * 41; }\n");
    const argv = ["/usr/bin/gcc", "-O2", "-c", "src/bound.c", "-o", "build/bound.o"];
    const outputs = [{ role: "object", path: join(fx.proj, "build/bound.o") }];
    const inputs = fx.store.closure(argv, fx.proj);
    const [a, b] = [await bound.run(fx.job(argv, inputs, outputs), fx.materials()), await sandbox.run(fx.job(argv, inputs, outputs), fx.materials())];
    expect(a.exitCode, a.stderr.toString()).toBe(0);
    expect(a.outputs[0]!.data.equals(b.outputs[0]!.data)).toBe(true);
  });

  it("leaves no process behind when the job's program exits and its children do not", async () => {
    const r = await sandbox.run(fx.sh("sleep 987656 & sleep 987657 & echo started"), fx.materials());
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe("started\n");
    expect(pgrep("sleep 98765[67]")).toEqual([]);
  });

  it("creates the directories a job names, even with no input in them (gcc -Wmissing-include-dirs stays quiet, as here)", async () => {
    mkdirSync(join(fx.proj, "empty-include"), { recursive: true });
    writeFileSync(join(fx.proj, "src/plain.c"), "int plain(void) { return 4; }\n");
    const argv = ["/usr/bin/gcc", "-Wmissing-include-dirs", "-Iempty-include", "-c", "src/plain.c", "-o", "build/plain.o"];
    const here = spawnSync(argv[0]!, argv.slice(1), { cwd: fx.proj, encoding: "utf8" });
    expect(here.status).toBe(0);
    expect(here.stderr).toBe("");
    const inputs = fx.store.closure(argv, fx.proj);
    const outputs = [{ role: "object", path: join(fx.proj, "build/plain.o") }];
    const without = await sandbox.run(fx.job(argv, inputs, outputs), fx.materials());
    expect(without.stderr.toString()).toContain("empty-include: No such file or directory");
    const withDirs = await sandbox.run(fx.job(argv, inputs, outputs, { directories: [join(fx.proj, "empty-include")] }), fx.materials());
    expect(withDirs.exitCode).toBe(0);
    expect(withDirs.stderr.toString()).toBe(here.stderr);
    // Read-only like every input directory.
    const probe = await sandbox.run(fx.sh(`touch ${join(fx.proj, "empty-include/x")} 2>&1; ls -a ${join(fx.proj, "empty-include")}`, { directories: [join(fx.proj, "empty-include")] }), fx.materials());
    expect(probe.stdout.toString()).toMatch(/Read-only file system[^]*\.\n\.\.\n$/);
  });

  it("mounts a prepared input tree only for a job whose tree holds exactly the same files (an extra header earlier on the include path is never visible)", async () => {
    // One kept tree per job: the headers' directory. The project's src/ holds the job's own source (named on the command line): made for each job.
    const cache = new InputTreeCache(join(fx.tmp, "trees"), 2);
    const lib = join(fx.tmp, "shadow");
    for (const d of ["a", "b"]) mkdirSync(join(lib, d), { recursive: true });
    writeFileSync(join(lib, "a/which.h"), "#define WHICH 1\n");
    writeFileSync(join(lib, "b/which.h"), "#define WHICH 2\n");
    writeFileSync(join(fx.proj, "src/which.c"), "#include <which.h>\nint which = WHICH;\n");
    const argv = ["/usr/bin/gcc", "-E", "-P", "-I", join(lib, "a"), "-I", join(lib, "b"), "src/which.c"];
    const source = fx.store.put(join(fx.proj, "src/which.c"));
    const [a, b] = [fx.store.put(join(lib, "a/which.h")), fx.store.put(join(lib, "b/which.h"))];
    const preprocess = async (headers: typeof a[]) => {
      const r = await sandbox.run(fx.job(argv, [source, ...headers], []), { ...fx.materials(), inputTrees: cache });
      expect(r.exitCode, r.stderr.toString()).toBe(0);
      return r.stdout.toString();
    };
    // The plain preprocessor with both headers on the host.
    expect(spawnSync(argv[0]!, argv.slice(1), { cwd: fx.proj, encoding: "utf8" }).stdout).toBe("int which = 1;\n");
    expect(await preprocess([a, b])).toBe("int which = 1;\n");
    expect(await preprocess([b]), "a job without a/which.h gets its own tree").toBe("int which = 2;\n");
    expect([cache.hits, cache.misses]).toEqual([0, 2]);
    expect(await preprocess([b])).toBe("int which = 2;\n");
    expect(await preprocess([a, b])).toBe("int which = 1;\n");
    expect([cache.hits, cache.misses]).toEqual([2, 2]);
    // A third tree: the least recently used one (b's) goes; a job needing it again gets it made afresh.
    expect(await preprocess([a])).toBe("int which = 1;\n");
    expect(cache.size).toBe(2);
    expect(await preprocess([b])).toBe("int which = 2;\n");
    expect([cache.hits, cache.misses]).toEqual([2, 4]);
    // Read-only like every input tree, and it holds only the job's own files.
    const look = await sandbox.run(fx.sh(`touch ${join(lib, "b/x")} 2>&1; find ${lib} | sort`, { inputs: [b] }), { ...fx.materials(), inputTrees: cache });
    expect(look.stdout.toString()).toBe(`touch: ${join(lib, "b/x")}: Read-only file system\n${lib}\n${join(lib, "b")}\n${join(lib, "b/which.h")}\n`);
    expect(cache.hits).toBe(3);
  });

  it("keeps a project's tree between jobs of different sources: the directory of the job's source is mounted on it from a tree of the job's own (objects byte-identical)", async () => {
    const cache = new InputTreeCache(join(fx.tmp, "kept-trees"), 8);
    const kp = join(fx.tmp, "kept");
    for (const d of ["src/unix", "include", "build"]) mkdirSync(join(kp, d), { recursive: true });
    writeFileSync(join(kp, "include/x.h"), "#define X 3\n");
    writeFileSync(join(kp, "src/common.h"), "static inline int common(void) { return X; }\n");
    writeFileSync(join(kp, "src/unix/unix.h"), '#include "../common.h"\n');
    for (const n of ["a", "b"]) writeFileSync(join(kp, `src/unix/${n}.c`), `#include <x.h>\n#include "unix.h"\nint ${n}(void) { return common() + 1; }\n`);
    const build = join(kp, "build");
    const compile = async (name: string) => {
      const argv = ["/usr/bin/gcc", "-g", "-I", join(kp, "include"), "-c", join(kp, `src/unix/${name}.c`), "-o", `${name}.o`];
      const plain = spawnSync(argv[0]!, argv.slice(1), { cwd: build, env: { PATH: "/usr/bin:/bin", LANG: "C" } });
      expect(plain.status, plain.stderr.toString()).toBe(0);
      const plainObject = readFileSync(join(build, `${name}.o`));
      rmSync(join(build, `${name}.o`));
      const job = { ...fx.job(argv, fx.store.closure(argv, build), [{ role: "object", path: join(build, `${name}.o`) }]), cwd: build };
      const materials = { ...fx.materials(), inputTrees: cache };
      const r = await sandbox.run(job, materials);
      expect(r.exitCode, r.stderr.toString()).toBe(0);
      expect(r.outputs[0]?.data.equals(plainObject), `${name}.o is byte-identical to the plain compile's`).toBe(true);
      // The tree of the job's own sources is in/0, not in/<its path>: each directory there is a mkdir and an rmdir per job.
      const dirs = readdirSync(materials.scratchDir, { recursive: true, withFileTypes: true }).filter((e) => e.isDirectory());
      expect(dirs.map((e) => join(e.parentPath, e.name).slice(materials.scratchDir.length + 1)).sort()).toEqual(["in", "in/0", "w", "w/0"]);
      return job.inputs;
    };
    await compile("a");
    expect([cache.hits, cache.misses], "src/ (its unix/ left empty), include/ and /usr/include (stdc-predef.h) are kept").toEqual([0, 3]);
    const inputs = await compile("b");
    expect([cache.hits, cache.misses], "the second source's job mounts the three kept trees").toEqual([3, 3]);
    // What b's job sees: src/unix holds its own files only (never a.c), src/ the shared rest; all read-only.
    const argv = ["/usr/bin/sh", "-c", `cd ${kp} && find src | sort && touch src/unix/z src/z 2>&1; true`, "sh", join(kp, "src/unix/b.c")];
    const look = await sandbox.run({ ...fx.job(argv, inputs.filter((i) => i.path.startsWith(kp + "/")), []), cwd: build }, { ...fx.materials(), inputTrees: cache });
    expect(look.stdout.toString()).toMatch(/^src\nsrc\/common.h\nsrc\/unix\nsrc\/unix\/b.c\nsrc\/unix\/unix.h\n.*src\/unix\/z: Read-only file system\n.*src\/z: Read-only file system\n$/);
    expect(cache.hits, "src/ and include/ again").toBe(5);
  });

  it("folds the toolchain's mounts below /usr into one kept tree: one mount there besides the inputs', read-only, made once for the toolchain", async () => {
    const trees = new InputTreeCache(join(fx.tmp, "folded-trees"), 4);
    const header = join(fx.tmp, "usr-input/fold.h");
    mkdirSync(join(fx.tmp, "usr-input"), { recursive: true });
    writeFileSync(header, "#define FOLD 1\n");
    // An input inside the folded tree, mounted on top of it: /usr/local (the toolchain has none) as a tree of the input.
    const input = { ...fx.store.put(header), path: "/usr/local/include/fold.h" };
    const script = "grep -o ' /usr[^ ]* ' /proc/self/mountinfo | sort; cat /usr/local/include/fold.h; touch /usr/bin/new 2>&1; echo x 2>&1 >> /usr/bin/gcc; true";
    const look = async () => {
      const r = await sandbox.run(fx.sh(script, { inputs: [input] }), { ...fx.materials(), toolchainTrees: trees });
      expect(r.exitCode, r.stderr.toString()).toBe(0);
      return r.stdout.toString();
    };
    const first = await look();
    expect(first).toMatch(/^ \/usr \n \/usr\/local \n#define FOLD 1\ntouch: \/usr\/bin\/new: Read-only file system\n.*\/usr\/bin\/gcc: Read-only file system\n$/);
    expect([trees.hits, trees.misses]).toEqual([0, 1]);
    expect(await look()).toBe(first);
    expect([trees.hits, trees.misses], "the next job mounts the same tree").toEqual([1, 1]);
    // The tree holds the toolchain's own files (hard links), untouched.
    const [tree] = trees.listing();
    expect(readFileSync(join(fx.tmp, "folded-trees", tree!, "bin/sh")).equals(readFileSync(join(fx.root, "usr/bin/sh")))).toBe(true);
  });

  it("sets the job's file-size, core and address-space rlimits (from the launcher's child, to the byte)", async () => {
    const limits = { ...TEST_LIMITS, maxOutputBytes: 3_000_000, memoryBytes: 700 * 1024 * 1024 };
    const r = await sandbox.run(fx.sh("grep -E '^Max (file size|core file size|address space)' /proc/self/limits | tr -s ' '", { limits }), fx.materials());
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toBe(`Max file size 3000001 3000001 bytes \nMax core file size 0 0 bytes \nMax address space ${700 * 1024 * 1024} ${700 * 1024 * 1024} bytes \n`);
  });

  /** The ancestors of the first process whose command line has `mark` (polled until one runs), nearest first. */
  const ancestorsOf = async (mark: string): Promise<number[]> => {
    for (let i = 0; i < 600; i++) {
      const [pid] = pgrep(mark);
      if (pid) {
        const chain: number[] = [];
        for (let p = Number(pid); p > 1; ) {
          const ppid = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1];
          if (!ppid) break;
          chain.push((p = Number(ppid)));
        }
        return chain;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no process ${mark} started within 30 s`);
  };

  it("starts bwrap from the job launcher (a small native helper), not by forking this process; a cancel kills the job through it", async () => {
    const launcher = new JobLauncher(nativeClientPath());
    const through = new BwrapSandbox({}, launcher);
    const mark = `98${Math.floor(Math.random() * 9000) + 1000}1`;
    const cancel = new AbortController();
    const running = through.run(fx.sh(`echo started; sleep ${mark}`), fx.materials(cancel.signal));
    const chain = await ancestorsOf(`sleep ${mark}`);
    expect(launcher.pid).toBeGreaterThan(0);
    expect(chain, "the job's bwrap is a child of the launcher, the launcher one of this process").toContain(launcher.pid);
    expect(chain.indexOf(launcher.pid!) + 1 < chain.length && chain[chain.indexOf(launcher.pid!) + 1]).toBe(process.pid);
    cancel.abort();
    const r = await running;
    expect(r.killed).toBe("cancelled");
    expect(r.stdout.toString()).toBe("started\n");
    expect(pgrep(`sleep ${mark}`)).toEqual([]);
    expect(jobCgroups()).toEqual([]);
    expect([launcher.launched, launcher.fallbacks]).toEqual([1, 0]);
    const done = await through.run(fx.sh("echo out; echo err >&2; exit 3"), fx.materials());
    expect([done.exitCode, done.stdout.toString(), done.stderr.toString()]).toEqual([3, "out\n", "err\n"]);
    launcher.close();
  });

  it("runs a job again from this process when the launcher dies with it, and starts a new launcher for the next job", async () => {
    const launcher = new JobLauncher(nativeClientPath());
    const through = new BwrapSandbox({}, launcher);
    const mark = `97${Math.floor(Math.random() * 9000) + 1000}1`;
    const running = through.run(fx.sh(`echo started; sleep 3.${mark}; echo done`), fx.materials());
    await ancestorsOf(`sleep 3.${mark}`);
    const first = launcher.pid!;
    process.kill(first, "SIGKILL");
    const r = await running;
    expect(r.killed).toBeUndefined();
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, "started\ndone\n"]);
    expect([launcher.launched, launcher.fallbacks, launcher.restarts]).toEqual([1, 1, 1]);
    expect(jobCgroups()).toEqual([]);
    const next = await through.run(fx.sh("echo again"), fx.materials());
    expect(next.stdout.toString()).toBe("again\n");
    expect(launcher.pid).not.toBe(first);
    expect([launcher.launched, launcher.fallbacks]).toEqual([2, 1]);
    launcher.close();
  });

  it("spawns jobs from this process without a native helper (counted), with the same results", async () => {
    const none = new JobLauncher(undefined);
    const r = await new BwrapSandbox({}, none).run(fx.sh("echo out; echo err >&2; exit 3"), fx.materials());
    expect([r.exitCode, r.stdout.toString(), r.stderr.toString()]).toEqual([3, "out\n", "err\n"]);
    expect([none.launched, none.fallbacks]).toEqual([0, 1]);
    expect(await new BwrapSandbox({ launcher: "yes" }).probe()).toEqual({ usable: false, reason: expect.stringContaining('"launcher"') });
  });
});

/** The path without the launcher (`launcher: false`, or no native helper): bwrap spawned by this process, as before. */
describe("bwrap sandbox, jobs spawned from Node (launcher: false)", () => {
  const direct = new BwrapSandbox({ launcher: false });
  const fx = sandboxScenarios({ label: "bwrap, no launcher", sandbox: () => direct, envExtras: (cwd) => [`PWD=${cwd}`], limitsProcesses: true, blocksNestedUserNamespaces: true });

  it("sets the job's file-size, core and address-space rlimits (from the shell that joins its cgroup, without prlimit)", async () => {
    const limits = { ...TEST_LIMITS, maxOutputBytes: 3_000_000, memoryBytes: 700 * 1024 * 1024 };
    const r = await direct.run(fx.sh("ulimit -f; ulimit -c; ulimit -v", { limits }), fx.materials());
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toBe(`${Math.ceil(3_000_001 / 512)}\n0\n${700 * 1024}\n`);
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import type { CompileJob, JobResult, Sandbox } from "@reprise/core";
import { InputTreeCache } from "@reprise/core/sandbox-kit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { pgrep } from "./sandbox-engines.js";
import { buildGccToolchainRoot, makeJob, makeMaterials, TEST_LIMITS, TestInputStore, tempDir } from "./sandbox-toolchain.js";

export interface SandboxUnderTest {
  /** Label for timings. */
  label: string;
  sandbox: () => Sandbox;
  /** Variables the sandbox adds to the job's environment (besides the job's own). */
  envExtras: (cwd: string) => string[];
  /** Toolchain id for the jobs (a container sandbox makes one image of it). */
  toolchainId?: string;
  /** Its jobs cannot make user namespaces of their own (bwrap's --disable-userns; podman's default seccomp profile allows them). */
  blocksNestedUserNamespaces: boolean;
  /** It enforces `limits.maxProcesses`. */
  limitsProcesses: boolean;
}

export interface SandboxFixture {
  tmp: string;
  root: string;
  store: TestInputStore;
  proj: string;
  materials(signal?: AbortSignal): ReturnType<typeof makeMaterials>;
  job(argv: string[], inputs: CompileJob["inputs"], outputs: CompileJob["outputs"], extra?: Partial<CompileJob>): CompileJob;
  sh(script: string, extra?: Partial<CompileJob>): CompileJob;
}

/**
 * What every sandbox must do, as `it` blocks for the caller's `describe`:
 * with a real gcc toolchain root, objects byte-identical to a plain compile
 * in the same directory (debug info included), the same diagnostics and exit
 * status; and jobs that try what they must not — read a host file, write
 * outside their directory, reach the network, run past the time limit, write
 * more than the output limit — are stopped, with no process left behind.
 */
export function sandboxScenarios(sut: SandboxUnderTest): SandboxFixture {
  const fx = {} as SandboxFixture;
  // in the commands of jobs that must leave no process behind: unique to this suite, so that pgrep does not see
  // the jobs of another sandbox's suite running at the same time in another worker
  const mark = String(100000 + Math.floor(Math.random() * 800000));
  const tmp = tempDir("reprise-sbx-");

  beforeAll(() => {
    fx.tmp = tmp.dir;
    fx.root = buildGccToolchainRoot(join(tmp.dir, "toolchain"), { busybox: true }).root;
    fx.store = new TestInputStore(join(tmp.dir, "blobs"));
    const proj = (fx.proj = join(tmp.dir, "proj"));
    for (const d of ["include/lib", "src", "build"]) mkdirSync(join(proj, d), { recursive: true });
    writeFileSync(join(proj, "include/lib/util.h"), "#pragma once\n#include <string.h>\n#define TWICE(x) ((x) * 2)\nstatic inline int util_len(const char *s) { return (int)strlen(s); }\n");
    writeFileSync(
      join(proj, "src/main.c"),
      '#include <stdio.h>\n#include "lib/util.h"\nint answer(int x) { static const char *f = __FILE__; printf("%s %d\\n", f, __LINE__); return TWICE(x) + util_len(f); }\n',
    );
    writeFileSync(join(proj, "src/warn.c"), "#include <stdlib.h>\nint f(int a) { int unused; return a; }\nint g(void) { }\n");
    writeFileSync(join(proj, "src/broken.c"), '#include "lib/util.h"\nint h(void) { return undefined_thing + TWICE(1); }\n');
    writeFileSync(join(tmp.dir, "secret.txt"), "host secret\n");
    // As on a builder, the toolchain's mounts are folded into kept trees (a sandbox that mounts it one by one ignores them).
    const toolchainTrees = new InputTreeCache(join(tmp.dir, "toolchain-trees"), 4);
    fx.materials = (signal) => ({ ...makeMaterials(fx.root, fx.store, join(tmp.dir, "scratch"), signal), toolchainTrees });
    fx.job = (argv, inputs, outputs, extra = {}) => makeJob(argv, proj, inputs, outputs, { ...(sut.toolchainId ? { toolchainId: sut.toolchainId } : {}), ...extra });
    fx.sh = (script, extra = {}) => fx.job(["/usr/bin/sh", "-c", script], [], [{ role: "out", path: join(proj, "out.txt"), optional: true }], extra);
  });
  afterAll(() => tmp.remove());

  const run = (job: CompileJob, signal?: AbortSignal) => sut.sandbox().run(job, fx.materials(signal));
  const out = (result: JobResult, role: string) => result.outputs.find((o) => o.role === role)?.data;

  /** Runs `argv` in the project plainly, then in the sandbox with its `gcc -M` closure. */
  async function compileBoth(argv: string[], outputs: string[]) {
    const proj = fx.proj;
    for (const o of outputs) rmSync(join(proj, o), { force: true });
    const plain = spawnSync(argv[0]!, argv.slice(1), { cwd: proj, env: { PATH: "/usr/bin:/bin", LANG: "C" } });
    const plainFiles = outputs.map((o) => (existsSync(join(proj, o)) ? readFileSync(join(proj, o)) : null));
    for (const o of outputs) rmSync(join(proj, o), { force: true });
    const inputs = fx.store.closure(argv, proj);
    const job = fx.job(argv, inputs, outputs.map((o) => ({ role: o, path: join(proj, o), optional: true })));
    const t0 = performance.now();
    const result = await run(job);
    const ms = performance.now() - t0;
    for (const o of outputs) expect(existsSync(join(proj, o)), `the sandbox wrote ${o} on the host`).toBe(false);
    return { plain, plainFiles, result, ms };
  }

  it("compiles an object byte-identical to a plain compile, debug info and dependency file included", async () => {
    const argv = ["/usr/bin/gcc", "-O2", "-g", "-Iinclude", "-MD", "-MF", "build/main.d", "-c", "src/main.c", "-o", "build/main.o"];
    await run(fx.job(["/usr/bin/gcc", "--version"], [], [])); // warm up (a container sandbox makes its image)
    const { plain, plainFiles, result, ms } = await compileBoth(argv, ["build/main.o", "build/main.d"]);
    expect(plain.status).toBe(0);
    expect(result.killed).toBeUndefined();
    expect(result.exitCode).toBe(0);
    expect(result.stderr.toString()).toBe(plain.stderr.toString());
    expect(out(result, "build/main.o")!.equals(plainFiles[0]!)).toBe(true);
    expect(out(result, "build/main.d")!.equals(plainFiles[1]!)).toBe(true);
    expect(out(result, "build/main.o")!.includes(Buffer.from(fx.proj)), "the cwd is in the debug info").toBe(true);
    const again = await compileBoth(argv, ["build/main.o"]);
    const plainMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      spawnSync(argv[0]!, argv.slice(1), { cwd: fx.proj });
      plainMs.push(performance.now() - t0);
    }
    console.log(`${sut.label}: sandboxed compile ${ms.toFixed(0)} ms then ${again.ms.toFixed(0)} ms; plain ${Math.min(...plainMs).toFixed(0)} ms`);
  });

  it("gives the same warnings, and the same exit status and errors for a failing compile", async () => {
    const warn = await compileBoth(["/usr/bin/gcc", "-Wall", "-Wextra", "-c", "src/warn.c", "-o", "build/warn.o"], ["build/warn.o"]);
    expect(warn.plain.stderr.toString()).toContain("warning:");
    expect(warn.result.exitCode).toBe(0);
    expect(warn.result.stderr.toString()).toBe(warn.plain.stderr.toString());
    expect(out(warn.result, "build/warn.o")!.equals(warn.plainFiles[0]!)).toBe(true);

    const broken = await compileBoth(["/usr/bin/gcc", "-Iinclude", "-c", "src/broken.c", "-o", "build/broken.o"], ["build/broken.o"]);
    expect(broken.plain.status).toBe(1);
    expect(broken.result.exitCode).toBe(1);
    expect(broken.result.stderr.toString()).toBe(broken.plain.stderr.toString());
    expect(broken.result.outputs).toEqual([]);
  });

  it("calls the compiler by the names the job links to it (toolchains are identified by content): the plain compile's object", async () => {
    const real = execFileSync("realpath", ["/usr/bin/gcc"], { encoding: "utf8" }).trim();
    const argv = ["/usr/bin/gcc", "-O1", "-g", "-Iinclude", "-c", "src/main.c", "-o", "build/alias.o"];
    expect(spawnSync(argv[0]!, argv.slice(1), { cwd: fx.proj }).status).toBe(0);
    const ref = readFileSync(join(fx.proj, "build/alias.o"));
    rmSync(join(fx.proj, "build/alias.o"));
    const inputs = fx.store.closure(argv, fx.proj);
    // A name in a directory the toolchain has (/usr/bin), and one in a directory it lacks.
    for (const name of ["/usr/bin/cc-by-link", "/opt/reprise-test/bin/gcc"]) {
      const job = fx.job([name, ...argv.slice(1)], inputs, [{ role: "object", path: join(fx.proj, "build/alias.o") }], { links: [{ path: name, target: real }] });
      const result = await run(job);
      expect(result.stderr.toString(), name).toBe("");
      expect(out(result, "object")!.equals(ref), name).toBe(true);
    }
  });

  it("writes an output outside the cwd", async () => {
    const other = join(fx.tmp, "elsewhere/objs");
    mkdirSync(other, { recursive: true });
    const argv = ["/usr/bin/gcc", "-O1", "-g", "-Iinclude", "-c", "src/main.c", "-o", join(other, "m.o")];
    expect(spawnSync(argv[0]!, argv.slice(1), { cwd: fx.proj }).status).toBe(0);
    const ref = readFileSync(join(other, "m.o"));
    rmSync(join(other, "m.o"));
    const result = await run(fx.job(argv, fx.store.closure(argv, fx.proj), [{ role: "object", path: join(other, "m.o") }]));
    expect(result.stderr.toString()).toBe("");
    expect(out(result, "object")!.equals(ref)).toBe(true);
  });

  it("shows the job its toolchain, its inputs and its own directory, and nothing else of the host", async () => {
    const util = join(fx.proj, "include/lib/util.h");
    const script = [
      "ls /",
      "echo uid=$(id -u) gid=$(id -g)",
      "cat /etc/passwd 2>&1",
      `cat ${join(fx.tmp, "secret.txt")} 2>&1`,
      `cat ${join(fx.proj, "src/main.c")} 2>&1`, // on the host, but not an input of this job
      `head -1 ${util}`,
      `ls ${fx.root} 2>&1; ls ${fx.store.dir} 2>&1`,
      "unshare -U true 2>&1 || echo no-userns",
      "grep CapEff /proc/self/status",
    ].join("; ");
    const r = await run(fx.sh(script, { inputs: [fx.store.put(util)], env: { PATH: "/usr/bin", ONLY: "this" } }));
    const text = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    const top = text.split("\n").slice(0, text.split("\n").indexOf(text.split("\n").find((l) => l.startsWith("uid="))!));
    expect(top).toEqual(expect.arrayContaining(["lib", "lib64", "usr", "tmp", "proc", "dev"]));
    for (const hostOnly of ["bin", "home", "root", "boot", "opt", "srv", "mnt", "media", "sbin", "work"]) expect(top).not.toContain(hostOnly);
    expect(text).toContain("uid=65534 gid=65534");
    expect(text).not.toContain(readFileSync("/etc/passwd", "utf8").split("\n")[1]!);
    expect(text).not.toContain("host secret");
    expect(text).toContain(`cat: can't open '${join(fx.tmp, "secret.txt")}': No such file or directory`);
    expect(text).toContain(`cat: can't open '${join(fx.proj, "src/main.c")}': No such file or directory`);
    expect(text).toContain("#pragma once\n");
    expect(text).toContain(`ls: ${fx.root}: No such file or directory`);
    expect(text).toContain(`ls: ${fx.store.dir}: No such file or directory`);
    if (sut.blocksNestedUserNamespaces) expect(text).toContain("no-userns");
    expect(text).toContain("CapEff:\t0000000000000000");
    const env = await run(fx.job(["/usr/bin/env"], [], [], { env: { PATH: "/usr/bin", ONLY: "this" } }));
    expect(env.stdout.toString().trimEnd().split("\n").sort()).toEqual(["ONLY=this", "PATH=/usr/bin", ...sut.envExtras(fx.proj)].sort());
  });

  it("lets the job write only in its own directory and /tmp", async () => {
    const util = join(fx.proj, "include/lib/util.h");
    const before = readFileSync(util);
    const script = [
      "touch /x; touch /usr/x; touch /usr/bin/gcc; echo evil > /usr/bin/gcc",
      `echo evil > ${util}; rm -f ${util}`,
      `echo fine > ${join(fx.proj, "out.txt")}; echo tmp > /tmp/t && cat /tmp/t`,
    ].join("; ");
    const r = await run(fx.sh(script, { inputs: [fx.store.put(util)] }));
    const text = r.stdout.toString() + r.stderr.toString();
    expect(text.match(/Read-only file system/g)?.length).toBe(6);
    expect(r.stdout.toString()).toBe("tmp\n");
    expect(r.outputs).toEqual([{ role: "out", data: Buffer.from("fine\n") }]);
    expect(readFileSync(util).equals(before)).toBe(true);
    expect(existsSync(join(fx.proj, "out.txt"))).toBe(false);
  });

  it("has no network: a server listening on the host's loopback is not reached", async () => {
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await run(fx.sh(`echo hi | nc -w 2 127.0.0.1 ${port}; echo rc=$?; nc -w 2 192.0.2.1 80 </dev/null; echo rc2=$?; ip link 2>/dev/null | grep -c 'state UP' || true`));
      const text = r.stdout.toString() + r.stderr.toString();
      expect(text).toMatch(/rc=1/);
      expect(text).toMatch(/rc2=1/);
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it("kills the whole process tree at the time limit", async () => {
    const t0 = performance.now();
    const r = await run(fx.sh(`sleep ${mark}1 & sleep ${mark}2 & sleep ${mark}3`, { limits: { ...TEST_LIMITS, timeoutMs: 1500 } }));
    expect(r.killed).toBe("timeout");
    expect(performance.now() - t0).toBeLessThan(8000);
    expect(pgrep(`sleep ${mark}`)).toEqual([]);
  });

  it("kills the job when cancelled", async () => {
    const ac = new AbortController();
    const r = run(fx.sh(`sleep ${mark}4`), ac.signal);
    setTimeout(() => ac.abort(), 1200);
    expect((await r).killed).toBe("cancelled");
    expect(pgrep(`sleep ${mark}4`)).toEqual([]);
    const early = new AbortController();
    early.abort();
    expect((await run(fx.sh("echo never"), early.signal)).killed).toBe("cancelled");
  });

  it("stops a job that writes more than the output limit: one file, many files, its output streams, /tmp", async () => {
    const limits = { ...TEST_LIMITS, maxOutputBytes: 1024 ** 2 };
    const t0 = performance.now();
    const one = await run(fx.sh(`yes ${mark}x > ${join(fx.proj, "big")}; echo after`, { limits }));
    expect(one.killed).toBe("output-limit");
    const t1 = performance.now();
    const many = await run(fx.sh("i=0; while true; do i=$((i+1)); head -c 300000 /dev/zero > f$i; done", { limits }));
    expect(many.killed).toBe("output-limit");
    const t2 = performance.now();
    const streams = await run(fx.sh(`yes ${mark}x`, { limits }));
    expect(streams.killed).toBe("output-limit");
    console.log(`${sut.label}: output limit: one file ${(t1 - t0).toFixed(0)} ms, many files ${(t2 - t1).toFixed(0)} ms, streams ${(performance.now() - t2).toFixed(0)} ms`);
    expect(streams.stdout.length).toBeLessThanOrEqual(limits.maxOutputBytes);
    const tmpfs = await run(fx.sh("dd if=/dev/zero of=/tmp/big bs=65536 2>&1; echo rc=$?", { limits }));
    expect(tmpfs.stdout.toString()).toMatch(/No space left on device[^]*rc=1/);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(pgrep(`yes ${mark}x`)).toEqual([]);
  });

  it("keeps a job within its memory limit", async () => {
    // dd allocates its 200 MB block: refused (address-space limit) or killed (memory cgroup) under 64 MB, fine under 1 GB
    const dd = "dd if=/dev/zero of=/dev/null bs=200M count=1 2>&1; echo dd=$?";
    const small = await run(fx.sh(dd, { limits: { ...TEST_LIMITS, memoryBytes: 64 * 1024 ** 2 } }));
    expect(small.stdout.toString()).toMatch(/dd=[1-9]/);
    expect(small.killed).toBeUndefined();
    const large = await run(fx.sh(dd, { limits: { ...TEST_LIMITS, memoryBytes: 1024 ** 3 } }));
    expect(large.stdout.toString()).toMatch(/dd=0/);
    // Nothing of the sandbox's machinery lands in the caller's directory (podman's conmon writes "oom" into its cwd).
    expect(existsSync(join(process.cwd(), "oom"))).toBe(false);
  });

  if (sut.limitsProcesses) {
    it("limits the number of processes", async () => {
      const r = await run(fx.sh("for i in $(seq 40); do sleep 5 & done 2>&1; wait; echo done", { limits: { ...TEST_LIMITS, maxProcesses: 16 } }));
      expect(r.stdout.toString() + r.stderr.toString()).toMatch(/can't fork|Resource temporarily unavailable/);
    });

    it("stops a fork bomb at the process limit of the job as a whole, and leaves nothing behind", async () => {
      // A static C program that tries to fork 2,000 children which wait forever, and says how many forks succeeded.
      const bomb = `forkbomb${mark}`;
      const src = join(fx.tmp, `${bomb}.c`);
      writeFileSync(
        src,
        '#include <stdio.h>\n#include <unistd.h>\nint main(void) { int ok = 0, refused = 0; for (int i = 0; i < 2000; i++) { pid_t p = fork(); if (p == 0) { for (;;) pause(); } if (p > 0) ok++; else refused++; } printf("forked=%d refused=%d\\n", ok, refused); return 0; }\n',
      );
      const bin = join(fx.proj, bomb);
      if (!existsSync(bin)) execFileSync("gcc", ["-static", "-O1", "-o", bin, src]);
      const r = await run(fx.job([bin], [{ ...fx.store.put(bin), executable: true }], [], { limits: { ...TEST_LIMITS, maxProcesses: 64, timeoutMs: 60_000 } }));
      const m = /forked=(\d+) refused=(\d+)/.exec(r.stdout.toString());
      expect(m, r.stderr.toString()).not.toBeNull();
      expect(Number(m![1])).toBeLessThanOrEqual(64);
      expect(Number(m![2])).toBeGreaterThanOrEqual(2000 - 64);
      expect(pgrep(bomb)).toEqual([]);
      expect(spawnSync("true").status, "the host still forks").toBe(0);
    });
  }

  it("reports a job the sandbox cannot start as an error, not as a compile failure", async () => {
    await expect(run(fx.job(["/usr/bin/no-such-compiler", "-c", "x.c"], [], []))).rejects.toThrow(/no-such-compiler/);
  });

  return fx;
}

import { spawnSync } from "node:child_process";
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildCompilerToolchain, Engine, parseDepFile, ToolchainStore, type CompilerInfo, type ToolchainSpec } from "@reprise/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clangPlugin, gccInstallationFiles } from "../src/index.js";
import { realProbe, removeTempDirs, tempDir } from "../../plugin-gcc/test/helpers.js";

/**
 * Packaging the real clang 14: the driver at its argv[0] path with its links,
 * libclang-cpp/libLLVM and their libraries, the crtbegin.o that makes clang
 * select the GCC installation; the packaged clang compiles C and C++ to the
 * same objects inside a sandbox that holds nothing else.
 * REPRISE_SLOW_TESTS=1 also packages it twice to compare the bytes (gcc's
 * test does that by default; clang's archive is about 80 MB).
 */

afterAll(removeTempDirs);

const engine = new Engine().use(clangPlugin);

async function detect(path: string): Promise<CompilerInfo> {
  const d = await engine.hooks.detectCompiler.promise(realProbe(path));
  if (!d) throw new Error(`${path} not detected`);
  return { ...d, identity: `test-${path}` };
}

/** Resolves `path` with the toolchain's entries only (as inside the sandbox); every component must be an entry. */
function resolveInEntries(entries: Map<string, ToolchainSpec["entries"][number]>, path: string): string {
  const current: string[] = [];
  let pending = path.split("/").filter(Boolean);
  while (pending.length) {
    const c = pending.shift()!;
    if (c === "..") {
      current.pop();
      continue;
    }
    const candidate = "/" + [...current, c].join("/");
    const e = entries.get(candidate);
    if (!e) throw new Error(`${candidate} (on the way to ${path}) is not in the toolchain`);
    if (e.type === "symlink") {
      if (e.linkTarget!.startsWith("/")) current.length = 0;
      pending = [...e.linkTarget!.split("/").filter(Boolean), ...pending];
      continue;
    }
    current.push(c);
  }
  return "/" + current.join("/");
}

describe("the toolchain of clang 14", () => {
  let spec: ToolchainSpec;
  let entries: Map<string, ToolchainSpec["entries"][number]>;
  beforeAll(async () => {
    spec = (await engine.hooks.packageToolchain.promise(await detect("/usr/bin/clang")))!;
    entries = new Map(spec.entries.map((e) => [e.path, e]));
  });

  it("keeps the driver at /usr/bin/clang, a symlink to the LLVM binary, which is the program", () => {
    expect(spec.compilerPath).toBe("/usr/bin/clang");
    expect(entries.get("/usr/bin/clang")?.type).toBe("symlink");
    const real = resolveInEntries(entries, "/usr/bin/clang");
    expect(real).toBe(realpathSync("/usr/bin/clang"));
    expect(entries.get(real)).toMatchObject({ type: "file", role: "program" });
  });

  it("has libclang-cpp, libLLVM, libstdc++ and the loader, each reachable at the path the loader opens", () => {
    const paths = spec.entries.map((e) => e.path);
    for (const lib of ["libclang-cpp.so.14", "libLLVM-14.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"]) {
      expect(
        paths.some((p) => p.endsWith(`/${lib}`)),
        lib,
      ).toBe(true);
    }
    expect(entries.get(resolveInEntries(entries, "/lib64/ld-linux-x86-64.so.2"))?.type).toBe("file");
  });

  it("has crtbegin.o of the GCC installation clang selects, and no headers", () => {
    const verbose = spawnSync("/usr/bin/clang", ["-v"], { encoding: "utf8" }).stderr;
    const selected = /^Selected GCC installation: (.+)$/m.exec(verbose)![1]!;
    expect(entries.get(resolveInEntries(entries, join(selected, "crtbegin.o")))).toMatchObject({ type: "file", role: "data" });
    expect(spec.entries.filter((e) => e.path.includes("/include"))).toEqual([]);
  });

  it("runs on x86_64 Linux, from its programs' ELF headers", async () => {
    expect(await engine.hooks.resolveArchitecture.promise({ toolchain: spec })).toEqual([{ arch: "x86_64", os: "linux", bits: 64 }]);
  });

  it("clang++ keeps its own argv[0] link", async () => {
    const cxx = (await engine.hooks.packageToolchain.promise(await detect("/usr/bin/clang++")))!;
    const m = new Map(cxx.entries.map((e) => [e.path, e]));
    expect(cxx.compilerPath).toBe("/usr/bin/clang++");
    expect(resolveInEntries(m, "/usr/bin/clang++")).toBe(realpathSync("/usr/bin/clang++"));
  });
});

describe("the GCC installation in clang -v", () => {
  it("gives crtbegin.o for the selected installation and each candidate multilib", () => {
    const v = [
      "Found candidate GCC installation: /usr/bin/../lib/gcc/x86_64-linux-gnu/12",
      "Selected GCC installation: /usr/bin/../lib/gcc/x86_64-linux-gnu/12",
      "Candidate multilib: .;@m64",
      "Candidate multilib: 32;@m32",
      "Candidate multilib: x32;@mx32",
      "Selected multilib: .;@m64",
    ].join("\n");
    expect(gccInstallationFiles(v)).toEqual([
      "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/crtbegin.o",
      "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/32/crtbegin.o",
      "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/x32/crtbegin.o",
    ]);
    expect(gccInstallationFiles("clang version 14\n")).toEqual([]);
  });
});

describe("the packaged clang in a sandbox", () => {
  let root: string;
  let bwrapOk = false;

  beforeAll(async () => {
    const info = await detect("/usr/bin/clang++");
    const built = await buildCompilerToolchain(engine, info);
    if (process.env.REPRISE_SLOW_TESTS === "1") {
      const again = await buildCompilerToolchain(engine, info);
      expect(again.bytes.equals(built.bytes)).toBe(true);
    }
    root = await new ToolchainStore({ dir: tempDir("reprise-clang-store-") }).ensure(built.id, built.bytes);
    if (spawnSync("sh", ["-c", "command -v bwrap"]).status !== 0) spawnSync("apt-get", ["install", "-y", "bubblewrap"], { stdio: "ignore" });
    bwrapOk = spawnSync("bwrap", ["--bind", "/", "/", "true"]).status === 0;
  }, 180_000);

  async function compileBoth(file: string, source: string, flags: string[]) {
    expect(bwrapOk, "bwrap cannot create a sandbox here").toBe(true);
    const work = tempDir("reprise-clang-sandbox-");
    writeFileSync(join(work, file), source);
    const plain = await execa("/usr/bin/clang++", [...flags, "-c", file, "-o", "plain.o"], { cwd: work, reject: false });
    expect(plain.exitCode, plain.stderr).toBe(0);
    const dep = await execa("/usr/bin/clang++", [...flags, "-M", file], { cwd: work });
    const inputs = parseDepFile(dep.stdout, work).filter((p) => !p.startsWith(work + "/"));
    const argv = ["--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--bind", work, work];
    for (const p of inputs) argv.push("--ro-bind", p, p);
    const r = await execa("bwrap", [...argv, "--chdir", work, "/usr/bin/clang++", ...flags, "-c", file, "-o", "sandboxed.o"], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(work, "sandboxed.o")).equals(readFileSync(join(work, "plain.o")))).toBe(true);
  }

  it("compiles C to the same object as a plain compile", async () => {
    await compileBoth("a.c", "static int sq(int x) { return x * x; }\nint f(int x) { return sq(x) + 1; }\n", ["-O2", "-g"]);
  });

  it("compiles C++ to the same object as a plain compile", async () => {
    await compileBoth("b.cpp", "template <class T> T sq(T x) { return x * x; }\nstruct S { virtual int v() { return sq(3); } };\nint g() { S s; return s.v(); }\n", ["-O2", "-g", "-std=c++17"]);
  });
});

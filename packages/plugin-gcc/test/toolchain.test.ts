import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCompilerToolchain, buildToolchainArchive, Engine, inspectToolchainArchive, parseDepFile, ToolchainStore, type CompilerInfo, type CompilerProbe, type ToolchainSpec } from "@reprise/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectGcc, gccPlugin, gccToolchainSpec, type CompilerRunner } from "../src/index.js";
import { fakeProbe, realProbe, removeTempDirs, tempDir } from "./helpers.js";

/**
 * Packaging the real GCC 12: what goes in, that the same toolchain gives the
 * same bytes, that the packaged gcc runs and compiles the same object inside
 * a bwrap sandbox holding nothing else, and that an aarch64-hosted gcc (from
 * Debian's arm64 packages, unpacked, never installed) is described from its
 * own ELF headers.
 */

afterAll(removeTempDirs);

const engine = new Engine().use(gccPlugin);

async function detect(path: string): Promise<CompilerInfo> {
  const d = await engine.hooks.detectCompiler.promise(realProbe(path));
  if (!d) throw new Error(`${path} not detected`);
  return { ...d, identity: `test-${path}` };
}

async function spec(path: string): Promise<ToolchainSpec> {
  const s = await engine.hooks.packageToolchain.promise(await detect(path));
  if (!s) throw new Error("no spec");
  return s;
}

function byPath(s: ToolchainSpec) {
  return new Map(s.entries.map((e) => [e.path, e]));
}

function printed(gcc: string, arg: string): string {
  return spawnSync(gcc, [arg], { encoding: "utf8" }).stdout.trim();
}

/**
 * Resolves `path` using nothing but the toolchain's entries, as the kernel
 * would inside the sandbox: every component on the way must be an entry, and
 * the walk must end at the file `path` leads to on this machine.
 */
function expectChainKept(entries: Map<string, ToolchainSpec["entries"][number]>, path: string): void {
  const current: string[] = [];
  let pending = path.split("/").filter(Boolean);
  for (let hops = 0; pending.length; ) {
    const c = pending.shift()!;
    if (c === "..") {
      current.pop();
      continue;
    }
    const candidate = "/" + [...current, c].join("/");
    const e = entries.get(candidate);
    expect(e, `${candidate} (on the way to ${path})`).toBeDefined();
    if (e!.type === "symlink") {
      expect(++hops).toBeLessThan(40);
      if (e!.linkTarget!.startsWith("/")) current.length = 0;
      pending = [...e!.linkTarget!.split("/").filter(Boolean), ...pending];
      continue;
    }
    current.push(c);
  }
  const end = "/" + current.join("/");
  expect(end).toBe(realpathSync(path));
  expect(entries.get(end)?.type).toBe("file");
}

describe("the toolchain of gcc 12", () => {
  let gcc: ToolchainSpec;
  beforeAll(async () => {
    gcc = await spec("/usr/bin/gcc");
  });

  it("has the driver at the path it is called by, every symlink kept (gcc -> gcc-12 -> x86_64-linux-gnu-gcc-12)", () => {
    const e = byPath(gcc);
    expect(gcc.compilerPath).toBe("/usr/bin/gcc");
    expect(e.get("/usr/bin/gcc")).toMatchObject({ type: "symlink", linkTarget: "gcc-12" });
    expectChainKept(e, "/usr/bin/gcc");
    expect(e.get(realpathSync("/usr/bin/gcc"))).toMatchObject({ type: "file", role: "program" });
  });

  it("has cc1, cc1plus, the assembler and the LTO plugin, where the driver says they are", () => {
    const e = byPath(gcc);
    for (const prog of ["cc1", "cc1plus"]) expect(e.get(printed("/usr/bin/gcc", `-print-prog-name=${prog}`))).toMatchObject({ type: "file", role: "program" });
    expect(e.get(printed("/usr/bin/gcc", "-print-file-name=liblto_plugin.so"))).toMatchObject({ type: "file", role: "library" });
    const as = spawnSync("sh", ["-c", "command -v as"], { encoding: "utf8" }).stdout.trim();
    expectChainKept(e, as);
    expect(e.get(realpathSync(as))).toMatchObject({ role: "program" });
  });

  it("has the loader (through /lib64 and its absolute link) and every library, and nothing else", () => {
    const e = byPath(gcc);
    expectChainKept(e, "/lib64/ld-linux-x86-64.so.2");
    for (const lib of ["libc.so.6", "libm.so.6", "libisl.so.23", "libmpc.so.3", "libmpfr.so.6", "libgmp.so.10", "libzstd.so.1", "libz.so.1", "libbfd-2.40-system.so"]) {
      expect(
        gcc.entries.some((x) => x.path.endsWith(`/${lib}`)),
        lib,
      ).toBe(true);
    }
    const paths = gcc.entries.map((x) => x.path);
    // No headers (jobs carry their include closure), no linker, no collect2.
    expect(paths.filter((p) => p.includes("/include"))).toEqual([]);
    expect(paths.filter((p) => /\/(collect2|ld|ld\.bfd|lto1|lto-wrapper)$/.test(p))).toEqual([]);
    // Only files it loads or runs: every file has a role; directories only above entries.
    for (const x of gcc.entries) if (x.type === "file") expect(x.role, x.path).toBeDefined();
    expect(gcc.entries.filter((x) => x.type === "file").length).toBeLessThan(40);
  });

  it("runs on x86_64 Linux, read from the ELF headers of its programs", async () => {
    expect(await engine.hooks.resolveArchitecture.promise({ toolchain: gcc })).toEqual([{ arch: "x86_64", os: "linux", bits: 64 }]);
  });

  it("g++ brings its own driver and cc1plus", async () => {
    const gxx = await spec("/usr/bin/g++");
    const e = byPath(gxx);
    expectChainKept(e, "/usr/bin/g++");
    expect(e.get(printed("/usr/bin/g++", "-print-prog-name=cc1plus"))).toMatchObject({ role: "program" });
  });
});

describe("the packaged gcc", () => {
  let bytes: Buffer;
  let id: string;
  let root: string;
  let bwrapOk = false;

  beforeAll(async () => {
    const info = await detect("/usr/bin/gcc");
    const first = await buildCompilerToolchain(engine, info);
    const second = await buildCompilerToolchain(engine, info);
    expect(second.bytes.equals(first.bytes)).toBe(true);
    expect(second.id).toBe(first.id);
    bytes = first.bytes;
    id = first.id;
    root = await new ToolchainStore({ dir: tempDir("reprise-gcc-store-") }).ensure(id, bytes);
    if (spawnSync("sh", ["-c", "command -v bwrap"]).status !== 0) spawnSync("apt-get", ["install", "-y", "bubblewrap"], { stdio: "ignore" });
    bwrapOk = spawnSync("bwrap", ["--bind", "/", "/", "true"]).status === 0;
  }, 180_000);

  it("is the same bytes, and id, when packaged twice", () => {
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(bytes.length).toBeGreaterThan(5_000_000);
  });

  function sandbox(args: string[], binds: string[][] = [], cwd?: string, lang = "C") {
    const argv = ["--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", lang];
    for (const [flag, from, to] of binds) argv.push(flag!, from!, to!);
    if (cwd) argv.push("--chdir", cwd);
    return execa("bwrap", [...argv, ...args], { reject: false });
  }

  it("runs from its own files only (bwrap with the toolchain as /)", async () => {
    expect(bwrapOk, "bwrap cannot create a sandbox here").toBe(true);
    const r = await sandbox(["/usr/bin/gcc", "--version"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^gcc \(Debian 12/);
  });

  it("compiles a header-free file to the same object as a plain compile", async () => {
    expect(bwrapOk).toBe(true);
    const work = tempDir("reprise-gcc-sandbox-");
    writeFileSync(join(work, "a.c"), "static int sq(int x) { return x * x; }\nint f(int x) { return sq(x) + 1; }\n");
    const plain = await execa("/usr/bin/gcc", ["-O2", "-g", "-c", "a.c", "-o", "plain.o"], { cwd: work, reject: false });
    expect(plain.exitCode, plain.stderr).toBe(0);
    // What a job carries: the files `-M` lists (here the source and the implicit stdc-predef.h), each at its path.
    const dep = await execa("/usr/bin/gcc", ["-M", "a.c"], { cwd: work });
    const inputs = parseDepFile(dep.stdout, work).filter((p) => !p.startsWith(work + "/"));
    const r = await sandbox(["/usr/bin/gcc", "-O2", "-g", "-c", "a.c", "-o", "sandboxed.o"], [["--bind", work, work], ...inputs.map((p) => ["--ro-bind", p, p])], work);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(work, "sandboxed.o")).equals(readFileSync(join(work, "plain.o")))).toBe(true);
  });

  it("prints the same diagnostics under LANG=C.UTF-8 (it carries that locale)", async () => {
    expect(bwrapOk).toBe(true);
    const work = tempDir("reprise-gcc-diag-");
    writeFileSync(join(work, "e.c"), "int f(void) { return undeclared_thing; }\n");
    const env = { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" };
    const plain = await execa("/usr/bin/gcc", ["-c", "e.c", "-o", "e.o"], { cwd: work, reject: false, env, extendEnv: false });
    expect(plain.stderr).toContain("‘undeclared_thing’");
    const r = await sandbox(["/usr/bin/gcc", "-c", "e.c", "-o", "e.o"], [["--bind", work, work], ["--ro-bind", "/usr/include/stdc-predef.h", "/usr/include/stdc-predef.h"]], work, "C.UTF-8");
    expect(r.exitCode).toBe(plain.exitCode);
    expect(r.stderr).toBe(plain.stderr);
  });
});

/**
 * An aarch64-hosted gcc: Debian's arm64 gcc-12 and what it needs, downloaded
 * with apt-get download and unpacked with dpkg-deb -x (never installed),
 * cached between runs. Its `-print-*` answers come from running it under
 * qemu-user when qemu-aarch64-static is installed, otherwise from the answers
 * it gives there.
 */
const ARM64_PACKAGES = ["gcc-12", "cpp-12", "binutils", "binutils-aarch64-linux-gnu", "libbinutils", "libctf-nobfd0", "libctf0", "libjansson4", "libc6", "libgcc-s1", "libstdc++6", "libzstd1", "zlib1g", "libgmp10", "libisl23", "libmpfr6", "libmpc3"];

function arm64Root(): string {
  const base = join(process.env.REPRISE_TEST_CACHE ?? join(tmpdir(), "reprise-test-cache"), "arm64-gcc-12");
  const root = join(base, "root");
  if (existsSync(join(base, "complete"))) return root;
  const debs = join(base, "debs");
  mkdirSync(debs, { recursive: true });
  const foreign = spawnSync("dpkg", ["--print-foreign-architectures"], { encoding: "utf8" }).stdout;
  const sh = (cmd: string, args: string[], cwd?: string) => spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (!foreign.split("\n").includes("arm64")) {
    sh("dpkg", ["--add-architecture", "arm64"]);
    sh("apt-get", ["update"]);
  }
  const download = () => sh("apt-get", ["download", ...ARM64_PACKAGES.map((p) => `${p}:arm64`)], debs);
  if (download().status !== 0) {
    sh("apt-get", ["update"]);
    const r = download();
    if (r.status !== 0) throw new Error(`apt-get download failed: ${r.stderr}`);
  }
  for (const deb of readdirSync(debs).filter((f) => f.endsWith(".deb"))) {
    const r = sh("dpkg-deb", ["-x", join(debs, deb), root]);
    if (r.status !== 0) throw new Error(`dpkg-deb -x ${deb}: ${r.stderr}`);
  }
  // Mount points for running it in bwrap with the root read-only.
  for (const d of ["proc", "dev"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, ".qemu"), "");
  writeFileSync(join(base, "complete"), "");
  return root;
}

const CANNED: Record<string, string> = {
  "-dumpmachine": "aarch64-linux-gnu\n",
  "-print-prog-name=cc1": "/usr/lib/gcc/aarch64-linux-gnu/12/cc1\n",
  "-print-prog-name=cc1plus": "cc1plus\n",
  "-print-prog-name=as": "as\n",
  "-print-file-name=liblto_plugin.so": "/usr/lib/gcc/aarch64-linux-gnu/12/liblto_plugin.so\n",
  "-print-file-name=specs": "specs\n",
};

describe("an aarch64-hosted gcc, described on this x86_64 machine", () => {
  let root: string;
  let run: CompilerRunner;
  let probe: CompilerProbe;
  let emulated = false;

  beforeAll(() => {
    root = arm64Root();
    const qemu = spawnSync("sh", ["-c", "command -v qemu-aarch64-static"], { encoding: "utf8" }).stdout.trim();
    emulated = !!qemu && spawnSync("bwrap", ["--ro-bind", root, "/", "--ro-bind", qemu, "/.qemu", "--proc", "/proc", "--dev", "/dev", "/.qemu", "/usr/bin/gcc-12", "-dumpmachine"]).status === 0;
    if (emulated) {
      run = async (args) => {
        const r = await execa("bwrap", ["--ro-bind", root, "/", "--ro-bind", qemu, "/.qemu", "--proc", "/proc", "--dev", "/dev", "--clearenv", "--setenv", "LC_ALL", "C", "--setenv", "PATH", "/usr/bin:/bin", "/.qemu", "/usr/bin/gcc-12", ...args], { reject: false });
        return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? 1 };
      };
      probe = { path: "/usr/bin/gcc-12", realPath: "/usr/bin/aarch64-linux-gnu-gcc-12", invokedName: "gcc-12", run };
    } else {
      const answers: Record<string, { stdout?: string; stderr?: string }> = Object.fromEntries(Object.entries(CANNED).map(([k, v]) => [k, { stdout: v }]));
      answers["--version"] = { stdout: "gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0\n" };
      answers["-v"] = { stdout: "", stderr: "Target: aarch64-linux-gnu\ngcc version 12.2.0 (Debian 12.2.0-14+deb12u1) \n" };
      probe = fakeProbe("/usr/bin/gcc-12", "/usr/bin/aarch64-linux-gnu-gcc-12", answers);
      run = (args) => probe.run(args);
    }
  }, 300_000);

  it("is packaged from the unpacked root and runs on aarch64 (its own ELF headers, not this host)", async () => {
    const detection = await detectGcc(probe);
    expect(detection).toBeDefined();
    const info: CompilerInfo = { ...detection!, identity: "arm64-gcc-12" };
    expect(info.target).toBe("aarch64-linux-gnu");
    const s = await gccToolchainSpec(info, { sysroot: root, run, pathEnv: "/usr/bin:/bin" });
    expect(s.sysroot).toBe(root);
    const e = byPath(s);
    expect(e.get("/usr/bin/gcc-12")).toMatchObject({ type: "symlink", linkTarget: "aarch64-linux-gnu-gcc-12" });
    expect(e.get("/usr/bin/aarch64-linux-gnu-gcc-12")).toMatchObject({ type: "file", role: "program" });
    expect(e.get("/usr/lib/gcc/aarch64-linux-gnu/12/cc1")).toMatchObject({ type: "file", role: "program" });
    expect(e.get("/usr/bin/as")).toMatchObject({ type: "symlink", linkTarget: "aarch64-linux-gnu-as" });
    expect(e.get("/usr/bin/aarch64-linux-gnu-as")).toMatchObject({ role: "program" });
    expect(e.get("/lib/ld-linux-aarch64.so.1")).toMatchObject({ type: "symlink" });
    expect(e.get("/lib/aarch64-linux-gnu/libc.so.6")).toMatchObject({ type: "file", role: "library" });
    expect(s.entries.some((x) => x.path.endsWith("/libisl.so.23"))).toBe(true);
    // Nothing of this machine's x86_64 files.
    expect(s.entries.some((x) => x.path.includes("x86_64"))).toBe(false);

    const runsOn = await engine.hooks.resolveArchitecture.promise({ toolchain: s });
    expect(runsOn).toEqual([{ arch: "aarch64", os: "linux", bits: 64 }]);

    const built = await buildToolchainArchive(s, runsOn!);
    const file = join(tempDir(), "arm64.tar.gz");
    writeFileSync(file, built.bytes);
    const inspected = await inspectToolchainArchive(file);
    expect(inspected.id).toBe(built.id);
    expect(inspected.manifest).toMatchObject({ family: "gcc", compilerPath: "/usr/bin/gcc-12", target: "aarch64-linux-gnu", runsOn: [{ arch: "aarch64", os: "linux", bits: 64 }] });
  }, 120_000);

  it("gives the driver's answers the canned ones assume (checked when qemu-user can run it)", async () => {
    if (!emulated) return;
    for (const [arg, answer] of Object.entries(CANNED)) expect((await run([arg])).stdout.trim(), arg).toBe(answer.trim());
  });
});

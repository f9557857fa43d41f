import { linkSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import type { CompilerInfo } from "../../src/engine/types.js";
import { collectToolchainEntries } from "../../src/toolchain/collect-files.js";
import { describeToolchain } from "../../src/toolchain/package.js";
import { ToolchainCache } from "../../src/toolchain/toolchain-cache.js";
import { Logger } from "../../src/util/logger.js";
import { buildTree, makeElf, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/** An engine whose only plugin packages a fake compiler living in a sysroot, counting how often it is asked. */
function fakeEngine(sysroot: string, options: { answerArch?: boolean } = {}) {
  const calls = { packageToolchain: 0 };
  const engine = new Engine().use({
    name: "fake",
    apply(e) {
      e.hooks.packageToolchain.tapPromise("fake", async (compiler) => {
        if (compiler.family !== "fake") return undefined;
        calls.packageToolchain++;
        const entries = collectToolchainEntries({ programs: [compiler.path] }, { sysroot });
        return { entries, compilerPath: compiler.path, family: "fake", version: compiler.version, identity: compiler.identity, sysroot };
      });
      if (options.answerArch) e.hooks.resolveArchitecture.tapPromise("fake", async () => [{ arch: "riscv64", os: "linux", bits: 64 }]);
    },
  });
  return { engine, calls };
}

function fakeSysroot(): string {
  const root = tempDir("reprise-cache-sysroot-");
  buildTree(root, {
    "/usr/bin/fcc": makeElf({ machine: 183, type: 2, interpreter: "/lib/ld-linux-aarch64.so.1", needed: ["libc.so.6"] }),
    "/lib/ld-linux-aarch64.so.1": makeElf({ machine: 183, soname: "ld-linux-aarch64.so.1" }),
    "/lib/aarch64-linux-gnu/libc.so.6": makeElf({ machine: 183, soname: "libc.so.6" }),
  });
  return root;
}

const compiler: CompilerInfo = { family: "fake", path: "/usr/bin/fcc", realPath: "/usr/bin/fcc", version: "1", versionText: "fcc 1", identity: "a".repeat(64) };

describe("packaging through the hooks", () => {
  it("reads the platform from the programs' ELF headers when no plugin answers", async () => {
    const { engine } = fakeEngine(fakeSysroot());
    const d = await describeToolchain(engine, compiler);
    expect(d.runsOn).toEqual([{ arch: "aarch64", os: "linux", bits: 64 }]);
  });

  it("takes a plugin's answer to resolveArchitecture", async () => {
    const { engine } = fakeEngine(fakeSysroot(), { answerArch: true });
    expect((await describeToolchain(engine, compiler)).runsOn).toEqual([{ arch: "riscv64", os: "linux", bits: 64 }]);
  });

  it("says so when no plugin packages the compiler", async () => {
    await expect(describeToolchain(new Engine(), compiler)).rejects.toThrow(/no plugin packages fake compilers/);
  });
});

describe("the toolchain cache (hermetic mode's ToolchainProvider)", () => {
  it("packages once per compiler identity, on disk, and unpacks on first use", async () => {
    const sysroot = fakeSysroot();
    const dir = tempDir();
    const { engine, calls } = fakeEngine(sysroot);
    const cache = new ToolchainCache(engine, { dir });
    const [p1, p2] = await Promise.all([cache.prepare(compiler), cache.prepare(compiler)]);
    expect(p1).toEqual(p2);
    expect(calls.packageToolchain).toBe(1);
    expect(readdirSync(join(dir, "toolchains", "archives")).filter((f) => f.endsWith(".tar.gz"))).toHaveLength(1);
    expect(p1.root).toBe(join(dir, "toolchains", "store", p1.id, "root"));
    expect(readFileSync(join(p1.root, "usr/bin/fcc")).equals(readFileSync(join(sysroot, "usr/bin/fcc")))).toBe(true);
    const packaged = await cache.archive(compiler);
    expect(packaged).toMatchObject({ id: p1.id, manifest: { runsOn: [{ arch: "aarch64", os: "linux", bits: 64 }] } });

    // Another process (a new cache on the same dir) reuses the archive without asking the plugin.
    const other = fakeEngine(sysroot);
    expect(await new ToolchainCache(other.engine, { dir }).prepare(compiler)).toEqual(p1);
    expect(other.calls.packageToolchain).toBe(0);
  });

  it("identifies a toolchain by content: a compiler called through a symlink (cc, clang++) gives the same id and one archive", async () => {
    const sysroot = fakeSysroot();
    symlinkSync("fcc", join(sysroot, "usr/bin/fcc++"));
    symlinkSync("/usr/bin/fcc++", join(sysroot, "usr/bin/cc"));
    const dir = tempDir();
    const { engine } = fakeEngine(sysroot);
    const cache = new ToolchainCache(engine, { dir });
    const plain = await cache.archive(compiler);
    const plusPlus = await cache.archive({ ...compiler, path: "/usr/bin/fcc++", versionText: "fcc++ 1", identity: "b".repeat(64) });
    const cc = await cache.prepare({ ...compiler, path: "/usr/bin/cc", versionText: "cc 1", identity: "c".repeat(64) });
    expect(plusPlus.id).toBe(plain.id);
    expect(cc.id).toBe(plain.id);
    // The toolchain holds the compiler at the path it resolves to; a job names its own (CompileJob.links).
    expect(plusPlus.manifest.compilerPath).toBe("/usr/bin/fcc");
    expect(cc.compilerPath).toBe("/usr/bin/fcc");
    expect(plusPlus.manifest.files.map((f) => f.path)).not.toContain("/usr/bin/fcc++");
    expect(readdirSync(join(dir, "toolchains", "archives")).filter((f) => f.endsWith(".tar.gz"))).toEqual([`${plain.id}.tar.gz`]);
    expect(readdirSync(join(dir, "toolchains", "store")).filter((f) => !f.startsWith("."))).toEqual([plain.id]);
    expect(plain.manifest.identity).toMatch(/^[0-9a-f]{64}$/);
    expect(plain.manifest.identity).not.toBe(compiler.identity);
  });

  it("packs another name of a packaged compiler no more: the archive made from the same manifest serves it", async () => {
    const sysroot = fakeSysroot();
    symlinkSync("fcc", join(sysroot, "usr/bin/fcc++"));
    const dir = tempDir();
    const lines: string[] = [];
    const { engine, calls } = fakeEngine(sysroot);
    const cache = new ToolchainCache(engine, { dir, logger: new Logger("info", { write: (l) => lines.push(l) }) });
    const plain = await cache.archive(compiler);
    const archive = join(dir, "toolchains", "archives", `${plain.id}.tar.gz`);
    writeFileSync(archive, readFileSync(archive)); // a new mtime: the second name must not rewrite it
    const { mtimeMs } = statSync(archive);
    const plusPlus = await cache.archive({ ...compiler, path: "/usr/bin/fcc++", versionText: "fcc++ 1", identity: "b".repeat(64) });
    expect(plusPlus).toEqual(plain);
    expect(calls.packageToolchain).toBe(2); // described under its own name, not packed
    expect(lines.filter((l) => l.includes("packaged the toolchain"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("one already packaged"))).toHaveLength(1);
    expect(statSync(archive).mtimeMs).toBe(mtimeMs);
    // Its own record now: a new cache on the same dir answers for that name without asking the plugin.
    const other = fakeEngine(sysroot);
    expect((await new ToolchainCache(other.engine, { dir }).archive({ ...compiler, path: "/usr/bin/fcc++", versionText: "fcc++ 1", identity: "b".repeat(64) })).id).toBe(plain.id);
    expect(other.calls.packageToolchain).toBe(0);

    // A changed file makes another manifest: that name is packed anew, never served the old archive.
    writeFileSync(join(sysroot, "lib/aarch64-linux-gnu/libc.so.6"), Buffer.concat([makeElf({ machine: 183, soname: "libc.so.6" }), Buffer.from("v2")]));
    const after = await cache.archive({ ...compiler, path: "/usr/bin/fcc++", versionText: "fcc++ 1", identity: "b".repeat(64) });
    expect(after.id).not.toBe(plain.id);
    expect(lines.filter((l) => l.includes("packaged the toolchain"))).toHaveLength(2);
  });

  it("takes no twin from another root: the same paths, sizes and modes there may hold other bytes", async () => {
    const first = fakeSysroot();
    const second = fakeSysroot();
    const lib = "lib/aarch64-linux-gnu/libc.so.6";
    const bytes = readFileSync(join(second, lib));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // same size, other content
    writeFileSync(join(second, lib), bytes);
    const dir = tempDir();
    const a = await new ToolchainCache(fakeEngine(first).engine, { dir }).archive(compiler);
    const b = await new ToolchainCache(fakeEngine(second).engine, { dir }).archive({ ...compiler, identity: "d".repeat(64) });
    expect(b.id).not.toBe(a.id);
  });

  it("holds a hard-linked compiler under one of its names, so every name gives one toolchain", async () => {
    const sysroot = fakeSysroot();
    linkSync(join(sysroot, "usr/bin/fcc"), join(sysroot, "usr/bin/zcc"));
    linkSync(join(sysroot, "usr/bin/fcc"), join(sysroot, "usr/bin/acc"));
    const dir = tempDir();
    const { engine } = fakeEngine(sysroot);
    const cache = new ToolchainCache(engine, { dir });
    const viaF = await cache.archive(compiler);
    const viaZ = await cache.archive({ ...compiler, path: "/usr/bin/zcc", realPath: "/usr/bin/zcc", identity: "z".repeat(64) });
    expect(viaZ.id).toBe(viaF.id);
    expect(viaZ.manifest.compilerPath).toBe("/usr/bin/acc");
    expect(viaZ.manifest.files.map((f) => f.path)).not.toContain("/usr/bin/fcc");
  });

  it("packages again when a file it was made from changed (a library upgraded under the same compiler)", async () => {
    const sysroot = fakeSysroot();
    const dir = tempDir();
    const { engine, calls } = fakeEngine(sysroot);
    const cache = new ToolchainCache(engine, { dir });
    const before = await cache.prepare(compiler);
    writeFileSync(join(sysroot, "lib/aarch64-linux-gnu/libc.so.6"), Buffer.concat([makeElf({ machine: 183, soname: "libc.so.6" }), Buffer.from("v2")]));
    const after = await cache.prepare(compiler);
    expect(calls.packageToolchain).toBe(2);
    expect(after.id).not.toBe(before.id);
    expect(readFileSync(join(after.root, "lib/aarch64-linux-gnu/libc.so.6")).subarray(-2).toString()).toBe("v2");
  });
});

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectToolchainCommand, packageToolchainCommand, toolchainCommand, type CommandIO } from "../../src/cli/toolchain-commands.js";
import { ensureDebianPackages, rawArchive, removeTempDirs, tempDir } from "./helpers.js";

/**
 * `reprise --package-toolchain` and `reprise toolchain inspect`, with the
 * default plugins loaded as the daemon loads them (from the built packages).
 * The compiler is Debian's aarch64 cross gcc: an x86_64 program that targets
 * aarch64, so "runs on" and "targets" differ.
 */

afterAll(removeTempDirs);

function capture(cwd: string): CommandIO & { out: string; err: string } {
  const io = {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd },
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
  };
  return io;
}

let dir: string;
let archive: string;
let packaged: ReturnType<typeof capture>;

beforeAll(async () => {
  ensureDebianPackages(["gcc-aarch64-linux-gnu"]);
  dir = tempDir("reprise-cli-toolchain-");
  archive = join(dir, "cross.tar.gz");
  packaged = capture(dir);
  const code = await packageToolchainCommand("aarch64-linux-gnu-gcc", "cross.tar.gz", packaged);
  expect(code, packaged.err).toBe(0);
}, 300_000);

describe("reprise --package-toolchain", () => {
  it("writes the archive and says what it holds", () => {
    expect(packaged.out).toContain(`Wrote ${archive}`);
    expect(packaged.out).toMatch(/toolchain [0-9a-f]{64}/);
    expect(packaged.out).toContain("gcc 12");
    expect(packaged.out).toContain("runs on x86_64 (linux, 64-bit), targets aarch64-linux-gnu");
  });

  it("fails clearly for what is not a compiler or not there", async () => {
    const io = capture(dir);
    expect(await packageToolchainCommand("no-such-compiler-xyz", "x.tar.gz", io)).toBe(1);
    expect(io.err).toMatch(/cannot package no-such-compiler-xyz: no such executable/);
    const io2 = capture(dir);
    expect(await packageToolchainCommand("/bin/true", "x.tar.gz", io2)).toBe(1);
    expect(io2.err).toMatch(/no plugin recognises it as a compiler/);
    const io3 = capture(dir);
    expect(await packageToolchainCommand(undefined, undefined, io3)).toBe(2);
    expect(io3.err).toMatch(/usage/);
  });
});

describe("reprise toolchain inspect", () => {
  it("prints id, compiler, version, what it runs on and targets, files and size", async () => {
    const io = capture(dir);
    expect(await toolchainCommand(["inspect", archive], io)).toBe(0);
    expect(io.out).toMatch(/^id: +[0-9a-f]{64}$/m);
    expect(io.out).toMatch(/^compiler: +gcc 12\.\d+\.\d+ at \/usr\/bin\/aarch64-linux-gnu-gcc$/m);
    expect(io.out).toMatch(/^runs on: +x86_64 \(linux, 64-bit\)$/m);
    expect(io.out).toMatch(/^targets: +aarch64-linux-gnu$/m);
    expect(io.out).toMatch(/^size: +[\d.]+ MiB compressed, [\d.]+ MiB unpacked, \d+ entries$/m);
    expect(io.out).toContain("link  /usr/bin/aarch64-linux-gnu-gcc -> aarch64-linux-gnu-gcc-12");
    expect(io.out).toMatch(/file  \/usr\/lib\/gcc-cross\/aarch64-linux-gnu\/12\/cc1 .*\(program\)/);
    expect(io.out).toMatch(/file  \/usr\/bin\/aarch64-linux-gnu-as .*\(program\)/);
  });

  it("--json gives the same, machine-readable", async () => {
    const io = capture(dir);
    expect(await toolchainCommand(["inspect", "--json", archive], io)).toBe(0);
    const j = JSON.parse(io.out);
    expect(packaged.out).toContain(j.id);
    expect(j).toMatchObject({ family: "gcc", compilerPath: "/usr/bin/aarch64-linux-gnu-gcc", target: "aarch64-linux-gnu", runsOn: [{ arch: "x86_64", os: "linux", bits: 64 }] });
    expect(j.version).toMatch(/^12\./);
    expect(j.archiveBytes).toBeGreaterThan(1_000_000);
    expect(j.unpackedBytes).toBeGreaterThan(j.archiveBytes);
    const paths = j.files.map((f: { path: string }) => f.path);
    expect(paths).toContain("/usr/lib/gcc-cross/aarch64-linux-gnu/12/liblto_plugin.so");
    // The assembler is found through the driver's own relative prefix, every link kept.
    expect(paths).toContain("/usr/aarch64-linux-gnu/bin/as");
    // No headers, no linker.
    expect(paths.some((p: string) => p.includes("/include/"))).toBe(false);
    expect(paths.some((p: string) => /\/(ld|collect2)$/.test(p))).toBe(false);
  });

  it("refuses a malicious archive, naming the entry", async () => {
    const bad = join(dir, "bad.tar.gz");
    writeFileSync(bad, await rawArchive([{ header: { name: "usr", type: "symlink", linkname: "../../.." } }]));
    const io = capture(dir);
    expect(await inspectToolchainCommand(bad, {}, io)).toBe(1);
    expect(io.err).toMatch(/entry "usr": symlink to \.\.\/\.\.\/\.\. leaves the toolchain root/);
  });

  it("explains its usage", async () => {
    const io = capture(dir);
    expect(await toolchainCommand(["inspect"], io)).toBe(2);
    expect(io.err).toMatch(/usage: reprise toolchain inspect \[--json\] <archive>/);
    expect(await toolchainCommand(["frobnicate"], capture(dir))).toBe(2);
  });
});

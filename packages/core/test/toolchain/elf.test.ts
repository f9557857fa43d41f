import { realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ElfError, elfArch, elfPlatform, parseElf, readElf } from "../../src/toolchain/elf.js";
import { makeElf, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

describe("reading ELF headers", () => {
  it("reads gcc's driver: x86-64, 64-bit little-endian, its loader and libraries", () => {
    const info = readElf(realpathSync("/usr/bin/gcc"))!;
    expect(info).toMatchObject({ bits: 64, endian: "little", machine: 62, interpreter: "/lib64/ld-linux-x86-64.so.2", dynamic: true });
    expect(info.needed).toContain("libc.so.6");
    expect(elfPlatform(info)).toEqual({ arch: "x86_64", os: "linux", bits: 64 });
  });

  it("reads a shared library's soname and DT_RUNPATH (libclang-cpp: $ORIGIN/../lib)", () => {
    const info = readElf(realpathSync("/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14"))!;
    expect(info.soname).toBe("libclang-cpp.so.14");
    expect(info.runpath).toEqual(["$ORIGIN/../lib"]);
    expect(info.rpath).toEqual([]);
    expect(info.interpreter).toBeUndefined();
  });

  it("says undefined for a file that is not ELF and throws on a truncated one", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "script"), "#!/bin/sh\necho hi\n");
    expect(readElf(join(dir, "script"))).toBeUndefined();
    writeFileSync(join(dir, "cut"), makeElf({ needed: ["libc.so.6"] }).subarray(0, 80));
    expect(() => readElf(join(dir, "cut"))).toThrow(ElfError);
  });

  it.each([
    { bits: 32, endian: "little", machine: 40, arch: "arm" },
    { bits: 32, endian: "big", machine: 8, arch: "mips" },
    { bits: 64, endian: "big", machine: 21, arch: "ppc64" },
    { bits: 64, endian: "little", machine: 21, arch: "ppc64le" },
    { bits: 64, endian: "little", machine: 183, arch: "aarch64" },
    { bits: 64, endian: "little", machine: 243, arch: "riscv64" },
    { bits: 32, endian: "little", machine: 3, arch: "i386" },
    { bits: 64, endian: "big", machine: 22, arch: "s390x" },
  ] as const)("parses $bits-bit $endian-endian $arch: interpreter, needed, soname, rpath, runpath", ({ bits, endian, machine, arch }) => {
    const buf = makeElf({ bits, endian, machine, interpreter: "/lib/ld.so.1", needed: ["liba.so.1", "libb.so.2"], soname: "libself.so.3", rpath: "/r1:$ORIGIN/r2", flags1: 0x800 });
    const info = parseElf(buf);
    expect(info).toMatchObject({ bits, endian, machine, interpreter: "/lib/ld.so.1", needed: ["liba.so.1", "libb.so.2"], soname: "libself.so.3", rpath: ["/r1", "$ORIGIN/r2"], runpath: [], flags1: 0x800 });
    expect(elfArch(info)).toBe(arch);
    expect(elfPlatform(info)).toEqual({ arch, os: "linux", bits });
  });

  it("names every known machine for each class and byte order (32 LE, 32 BE, 64 LE, 64 BE)", () => {
    const expected: Record<number, string> = {
      3: "i386 i386 i386 i386", 62: "x32 x32 x86_64 x86_64", 183: "aarch64 aarch64_be aarch64 aarch64_be", 40: "arm armeb arm armeb", 243: "riscv32 riscv32 riscv64 riscv64",
      8: "mipsel mips mips64el mips64", 20: "ppcle ppc ppcle ppc", 21: "ppc64le ppc64 ppc64le ppc64", 22: "s390 s390 s390x s390x", 2: "sparc sparc sparc sparc", 43: "sparc64 sparc64 sparc64 sparc64",
      258: "loongarch32 loongarch32 loongarch64 loongarch64", 9999: "elf-machine-9999 elf-machine-9999 elf-machine-9999 elf-machine-9999",
    };
    const variants = [[32, "little"], [32, "big"], [64, "little"], [64, "big"]] as const;
    for (const [machine, names] of Object.entries(expected)) {
      expect(variants.map(([bits, endian]) => elfArch({ machine: Number(machine), bits, endian })).join(" "), `machine ${machine}`).toBe(names);
    }
  });

  it("drops DT_RPATH when DT_RUNPATH is present, as the loader does", () => {
    const info = parseElf(makeElf({ rpath: "/old", runpath: "/new" }));
    expect(info.rpath).toEqual([]);
    expect(info.runpath).toEqual(["/new"]);
  });

  it("reads the OS from EI_OSABI (GNU and System V are Linux, 9 is FreeBSD)", () => {
    expect(elfPlatform(parseElf(makeElf({ osAbi: 3 }))).os).toBe("linux");
    expect(elfPlatform(parseElf(makeElf({ osAbi: 9 }))).os).toBe("freebsd");
  });

  it("handles a static program (no dynamic section)", () => {
    const info = parseElf(makeElf({ noDynamic: true, type: 2 }));
    expect(info).toMatchObject({ dynamic: false, needed: [], type: 2 });
  });
});

import { realpathSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { LibraryResolver, globInRoot, parseLdconfigOutput, readLdSoConf } from "../../src/toolchain/resolve-libraries.js";
import { walkPath } from "../../src/toolchain/root-path.js";
import { buildTree, makeElf, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

const X86 = { machine: 62 } as const;
const ARM64 = { machine: 183 } as const;

describe("the loader's search on this machine", () => {
  it("finds gcc's loader and libc through the cache, keeping the paths the loader opens", () => {
    const c = new LibraryResolver().closure("/usr/bin/gcc");
    expect(c.interpreter).toBe("/lib64/ld-linux-x86-64.so.2");
    expect(c.missing).toEqual([]);
    expect(c.libraries.some((p) => p.endsWith("/libc.so.6"))).toBe(true);
  });

  it("finds everything cc1 maps (gmp, mpfr, mpc, isl, zstd, z)", () => {
    const cc1 = "/usr/lib/gcc/x86_64-linux-gnu/12/cc1";
    const c = new LibraryResolver().closure(cc1);
    const names = c.libraries.map((p) => p.split("/").pop());
    for (const lib of ["libisl.so.23", "libmpc.so.3", "libmpfr.so.6", "libgmp.so.10", "libzstd.so.1", "libz.so.1", "libm.so.6", "libc.so.6"]) expect(names).toContain(lib);
    expect(c.missing).toEqual([]);
  });

  it("follows clang's chain: libclang-cpp, then libLLVM and libstdc++", () => {
    const c = new LibraryResolver().closure("/usr/bin/clang");
    const names = c.libraries.map((p) => p.split("/").pop());
    expect(names).toEqual(expect.arrayContaining(["libclang-cpp.so.14", "libLLVM-14.so.1", "libstdc++.so.6", "libgcc_s.so.1"]));
    for (const p of c.libraries) expect(walkPath("/", p).kind).toBe("file");
  });
});

describe("the loader's search inside a sysroot", () => {
  function root() {
    const r = tempDir("reprise-sysroot-");
    buildTree(r, {
      // ld.so.conf with an include glob; a wrong-machine libc early in a listed dir is skipped.
      "/etc/ld.so.conf": "# comment\ninclude /etc/ld.so.conf.d/*.conf\n",
      "/etc/ld.so.conf.d/a.conf": "/opt/conf\n",
      "/etc/ld.so.conf.d/b.conf": "/opt/conf2 # trailing\n",
      "/opt/conf/libc.so.6": makeElf({ ...ARM64, soname: "libc.so.6" }),
      "/usr/lib/x86_64-linux-gnu/libc.so.6": makeElf({ ...X86, soname: "libc.so.6" }),
      "/usr/lib/x86_64-linux-gnu/ld.so": makeElf({ ...X86, soname: "ld.so" }),
      // /lib64 -> absolute link, resolved inside the sysroot, not on this machine.
      "/usr/lib64/ld.so": { link: "/usr/lib/x86_64-linux-gnu/ld.so" },
      "/lib64": { link: "/usr/lib64" },
      "/lib": { link: "usr/lib" },
      "/usr/bin/prog": makeElf({ ...X86, type: 2, interpreter: "/lib64/ld.so", needed: ["liba.so.1", "libb.so.1", "libc.so.6"], rpath: "$ORIGIN/../rp" }),
      "/usr/rp/liba.so.1": makeElf({ ...X86, needed: ["libd.so.1", "libc.so.6"], runpath: "${ORIGIN}/run" }),
      "/usr/rp/run/libd.so.1": makeElf({ ...X86, needed: ["libc.so.6"] }),
      // A decoy in the program's rpath: liba has a RUNPATH, so the program's RPATH is not searched for it.
      "/usr/rp/libd.so.1": makeElf({ ...X86 }),
      "/opt/conf2/libb.so.1": makeElf({ ...X86, needed: ["libe.so.1"] }),
      // Only in the program's rpath: libb (no runpath) inherits its loader's DT_RPATH.
      "/usr/rp/libe.so.1": makeElf({ ...X86 }),
    });
    return r;
  }

  it("follows DT_RPATH (inherited), DT_RUNPATH ($ORIGIN, ${ORIGIN}), ld.so.conf, default dirs, and skips wrong-machine files", () => {
    const r = root();
    const c = new LibraryResolver({ sysroot: r }).closure("/usr/bin/prog");
    expect(c.missing).toEqual([]);
    expect(c.interpreter).toBe("/lib64/ld.so");
    // Paths as ld.so opens them: the expanded directory and the name, not normalised (the kernel resolves "..").
    expect(c.libraries).toEqual(["/usr/bin/../rp/liba.so.1", "/opt/conf2/libb.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/../rp/run/libd.so.1", "/usr/bin/../rp/libe.so.1"]);
  });

  it("reports what it cannot find and honours DF_1_NODEFLIB", () => {
    const r = root();
    buildTree(r, { "/usr/bin/lonely": makeElf({ ...X86, needed: ["libnowhere.so.1", "libc.so.6"], flags1: 0x800 }) });
    const c = new LibraryResolver({ sysroot: r }).closure("/usr/bin/lonely");
    expect(c.missing).toEqual([
      { name: "libnowhere.so.1", neededBy: "/usr/bin/lonely" },
      { name: "libc.so.6", neededBy: "/usr/bin/lonely" },
    ]);
  });

  it("expands $LIB to lib/<multiarch> when that directory exists, and $PLATFORM to the machine", () => {
    const r = root();
    buildTree(r, {
      "/usr/bin/p2": makeElf({ ...X86, needed: ["libq.so", "libr.so"], runpath: "/$LIB/q:/opt/$PLATFORM" }),
      "/lib/x86_64-linux-gnu/q/libq.so": makeElf({ ...X86 }),
      "/opt/x86_64/libr.so": makeElf({ ...X86 }),
    });
    const c = new LibraryResolver({ sysroot: r }).closure("/usr/bin/p2");
    expect(c.libraries).toEqual(["/lib/x86_64-linux-gnu/q/libq.so", "/opt/x86_64/libr.so"]);
  });

  it("takes an already loaded soname instead of searching again", () => {
    const r = root();
    buildTree(r, {
      "/usr/bin/p3": makeElf({ ...X86, interpreter: "/lib64/ld.so", needed: ["ld.so", "libc.so.6"] }),
    });
    const c = new LibraryResolver({ sysroot: r }).closure("/usr/bin/p3");
    // ld.so is the interpreter, matched by its soname: not looked up in the default dirs.
    expect(c.libraries).toEqual(["/lib/x86_64-linux-gnu/libc.so.6"]);
  });

  it("reads ld.so.conf with includes and expands globs inside the root", () => {
    const r = root();
    expect(readLdSoConf(r)).toEqual(["/opt/conf", "/opt/conf2"]);
    expect(globInRoot(r, "/etc/ld.so.conf.d/*.conf")).toEqual(["/etc/ld.so.conf.d/a.conf", "/etc/ld.so.conf.d/b.conf"]);
  });
});

describe("walking paths inside a root", () => {
  it("follows absolute links from the root and reports every link passed", () => {
    const r = tempDir();
    buildTree(r, { "/usr/lib/x/ld.so": "x", "/usr/lib64/ld.so": { link: "/lib/x/ld.so" }, "/lib64": { link: "usr/lib64" }, "/lib": { link: "usr/lib" } });
    const w = walkPath(r, "/lib64/ld.so");
    expect(w.kind).toBe("file");
    expect(w.resolved).toBe("/usr/lib/x/ld.so");
    expect(w.links).toEqual([
      { path: "/lib64", target: "usr/lib64" },
      { path: "/usr/lib64/ld.so", target: "/lib/x/ld.so" },
      { path: "/lib", target: "usr/lib" },
    ]);
  });

  it("takes '..' physically, after a link (as the kernel does)", () => {
    const r = tempDir();
    buildTree(r, { "/a/b/c/f": "x", "/l": { link: "a/b/c" } });
    expect(walkPath(r, "/l/../c/f").resolved).toBe("/a/b/c/f");
    expect(walkPath(r, "/../../a/b/c/f").resolved).toBe("/a/b/c/f");
  });

  it("matches this machine's resolution with root /", () => {
    expect(walkPath("/", "/usr/bin/gcc").resolved).toBe(realpathSync("/usr/bin/gcc"));
  });
});

describe("ldconfig -p output", () => {
  it("maps names to paths in cache order", () => {
    const m = parseLdconfigOutput(
      "3 libs found in cache `/etc/ld.so.cache'\n" +
        "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n" +
        "\tlibz.so.1 (libc6) => /lib/i386-linux-gnu/libz.so.1\n" +
        "\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6\n",
    );
    expect(m.get("libz.so.1")).toEqual(["/lib/x86_64-linux-gnu/libz.so.1", "/lib/i386-linux-gnu/libz.so.1"]);
    expect(m.get("libc.so.6")).toEqual(["/lib/x86_64-linux-gnu/libc.so.6"]);
  });
});

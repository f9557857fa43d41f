import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "@reprise/core";
import { describe, expect, it } from "vitest";
import { createRustcPlugin } from "../src/index.js";
import { expectCacheable, fakeRustc, parseInput, RUSTC } from "./helpers.js";

const engine = new Engine().use(createRustcPlugin({ jobserverTokens: false }));
const WS = "/work/ws";
const DEPS = `${WS}/target/debug/deps`;
const SYSROOT = fakeRustc().data!.sysroot as string;

function parse(args: string[], env: Record<string, string> = { PATH: "/usr/bin:/bin" }) {
  return expectCacheable(engine.hooks.parseArguments.for("rustc").call(parseInput([RUSTC, ...args], { cwd: WS, env })));
}

const COMMON = ["--edition=2021", "--error-format=json", "--json=artifacts", "-C", "extra-filename=-0123", "--out-dir", DEPS, "-L", `dependency=${DEPS}`];

describe("which rustc calls become jobs", () => {
  it("a library gets a closure scan: its own arguments writing only dep-info, listing the crates rustc loads", () => {
    const inv = parse(["--crate-name", "app", "src/lib.rs", "--crate-type", "lib", "--emit=dep-info,metadata,link", ...COMMON, "--extern", `mid=${DEPS}/libmid-1.rmeta`], {
      PATH: "/usr/bin:/bin",
      CARGO_MAKEFLAGS: "-j --jobserver-auth=6,7",
    });
    expect(inv.localOnly).toBeUndefined();
    const scan = inv.closureScan!;
    expect(scan.argv[0]).toBe(RUSTC);
    expect(scan.argv.filter((a) => a.startsWith("--emit"))).toEqual([`--emit=dep-info=${scan.depFile}`]);
    expect(scan.argv.slice(-2)).toEqual(["-Z", "binary-dep-depinfo"]);
    expect(scan.argv).toContain(`mid=${DEPS}/libmid-1.rmeta`);
    expect(scan.setEnv).toEqual({ RUSTC_BOOTSTRAP: "1" });
    // cargo's jobserver descriptors are not the daemon's: the scan runs in compileEnv, which drops them.
    expect(inv.compileEnv?.CARGO_MAKEFLAGS).toBeUndefined();
    expect(scan.toolchainDirs).toEqual([SYSROOT]);
    expect(inv.compileArgv).not.toContain("binary-dep-depinfo");
  });

  it("metadata-only calls (cargo check) are jobs too, a static library's included", () => {
    expect(parse(["--crate-name", "a", "src/lib.rs", "--crate-type", "lib", "--emit=dep-info,metadata", ...COMMON]).closureScan).toBeDefined();
    expect(parse(["--crate-name", "a", "src/lib.rs", "--crate-type", "staticlib", "--emit=dep-info,metadata", ...COMMON]).closureScan).toBeDefined();
  });

  it("a static library stays local, for the reason bundles (it reads the rlibs of crates the scan names by their rmeta)", () => {
    const inv = parse(["--crate-name", "a", "src/lib.rs", "--crate-type", "staticlib", "--crate-type", "rlib", "--emit=dep-info,link", ...COMMON]);
    expect(inv.closureScan).toBeUndefined();
    expect(inv.localOnly?.reason).toBe("bundles");
  });

  it.each([
    ["bin", ["--crate-type", "bin"]],
    ["proc-macro", ["--crate-type", "proc-macro"]],
    ["cdylib", ["--crate-type", "cdylib"]],
    ["dylib", ["--crate-type", "dylib"]],
    ["bin", ["--test"]],
  ])("a linked crate (%s) is a job only for a runner that can link (needsRunner links), carrying the rlibs of the crates its scan names", (type, args) => {
    const inv = parse(["--crate-name", "t", "src/main.rs", ...args, "--emit=dep-info,link", ...COMMON]);
    expect(inv.localOnly).toBeUndefined();
    expect(inv.needsRunner).toEqual({ reason: "links", detail: expect.stringContaining(type) });
    expect(inv.closureScan?.companions).toEqual([{ suffix: ".rmeta", replacement: ".rlib" }]);
  });

  it.each([
    ["-C", "linker-plugin-lto"],
    ["-C", "link-arg=-L/opt/lib"],
    ["-C", "link-args=-Wl,-L,/opt/lib"],
    ["-C", "link-arg=-fuse-ld=/opt/mold/ld"],
    ["-C", "link-arg=-fuse-ld=mold"],
    ["-C", "link-arg=/nonexistent/version.map"],
    ["-C", "linker-flavor=ld.lld"],
  ])("a link that reaches outside the job (%s %s) stays local, for the reason links", (c, opt) => {
    const inv = parse(["--crate-name", "t", "src/main.rs", "--crate-type", "bin", c, opt, "--emit=dep-info,link", ...COMMON]);
    expect(inv.closureScan).toBeUndefined();
    expect(inv.localOnly).toEqual({ reason: "links", detail: expect.stringContaining(opt.replace(/^link-args=/, "")) });
  });

  it("a system library linked by name (-l z, no -L native= directory holding it) keeps the link local; libc's own and a native archive do not", () => {
    const local = parse(["--crate-name", "t", "src/main.rs", "--crate-type", "bin", "-l", "z", "--emit=dep-info,link", ...COMMON]);
    expect(local.localOnly).toEqual({ reason: "links", detail: expect.stringContaining("-l z (a system library)") });
    const own = parse(["--crate-name", "t", "src/main.rs", "--crate-type", "bin", "-l", "m", "-l", "dylib=pthread", "--emit=dep-info,link", ...COMMON]);
    expect(own.localOnly).toBeUndefined();
    expect(own.needsRunner?.reason).toBe("links");
    const dir = mkdtempSync(join(tmpdir(), "reprise-native-"));
    writeFileSync(join(dir, "libtwice.a"), "!<arch>\n");
    const native = parse(["--crate-name", "t", "src/main.rs", "--crate-type", "bin", "-L", `native=${dir}`, "-l", "static=twice", "--emit=dep-info,link", ...COMMON]);
    expect(native.localOnly).toBeUndefined();
    expect(native.extraInputFiles).toContain(join(dir, "libtwice.a"));
    rmSync(dir, { recursive: true, force: true });
  });

  it("a proc macro crate checked without linking (--emit=metadata) is a job", () => {
    const inv = parse(["--crate-name", "d", "src/lib.rs", "--crate-type", "proc-macro", "--emit=dep-info,metadata", ...COMMON]);
    expect(inv.localOnly).toBeUndefined();
    expect(inv.closureScan).toBeDefined();
  });
});

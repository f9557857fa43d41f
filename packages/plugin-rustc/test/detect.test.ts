import { existsSync, mkdirSync, realpathSync, utimesSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compilerLibraries, detectRustc, parseVerboseVersion } from "../src/detect.js";
import { parseRustupSettings, parseToolchainFile } from "../src/rustup.js";
import { DirectoryDigests } from "../src/sysroot-digest.js";
import { realProbe, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

const VV = `rustc 1.95.0 (59807616e 2026-04-14)
binary: rustc
commit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860
commit-date: 2026-04-14
host: x86_64-unknown-linux-gnu
release: 1.95.0
LLVM version: 22.1.2
`;

describe("rustc -vV", () => {
  it("gives release, host and commit", () => {
    expect(parseVerboseVersion(VV)).toEqual({ release: "1.95.0", host: "x86_64-unknown-linux-gnu", commitHash: "59807616e1fa2540724bfbac14d7976d7e4a3860" });
    expect(parseVerboseVersion("clang version 14")).toBeUndefined();
  });
});

describe("rustup's files", () => {
  it("settings.toml: default toolchain and directory overrides", () => {
    const s = parseRustupSettings(`version = "12"\ndefault_toolchain = "stable-x86_64-unknown-linux-gnu"\nprofile = "minimal"\n\n[overrides]\n"/home/u/proj" = "nightly-x86_64-unknown-linux-gnu"\n`);
    expect(s).toEqual({ defaultToolchain: "stable-x86_64-unknown-linux-gnu", overrides: [{ path: "/home/u/proj", toolchain: "nightly-x86_64-unknown-linux-gnu" }] });
  });
  it("toolchain files: TOML channel, legacy one-line file, path toolchains refused", () => {
    expect(parseToolchainFile('[toolchain]\nchannel = "1.95"\ncomponents = ["clippy"]\n', true)).toEqual({ channel: "1.95" });
    expect(parseToolchainFile("nightly-2026-01-01\n", false)).toEqual({ channel: "nightly-2026-01-01" });
    expect(parseToolchainFile('[toolchain]\npath = "/opt/rust"\n', true).unsupported).toBeTruthy();
  });
});

describe("directory digests", () => {
  it("hash once, notice a changed file, ignore an unchanged listing", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "libstd.rlib"), "one");
    writeFileSync(join(dir, "sub", "x.so"), "two");
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, "libstd.rlib"), old, old);
    utimesSync(join(dir, "sub", "x.so"), old, old);
    let now = Date.now();
    const d = new DirectoryDigests(() => now, 1000);
    const first = await d.digest(dir);
    expect(await d.digest(dir)).toBe(first);
    now += 5000;
    expect(await d.digest(dir)).toBe(first);
    writeFileSync(join(dir, "libstd.rlib"), "three");
    utimesSync(join(dir, "libstd.rlib"), old, old);
    expect(await d.digest(dir)).toBe(first); // within the recheck interval
    now += 5000;
    const second = await d.digest(dir);
    expect(second).not.toBe(first);
    expect(await d.digest(join(dir, "absent"))).toBe("missing");
  });
});

const PROXY = join(homedir(), ".cargo", "bin", "rustc");
const hasRustup = existsSync(PROXY);

describe("the installed toolchain", () => {
  it("is rustup's (~/.cargo/bin/rustc), as the README requires", () => {
    expect(hasRustup, `${PROXY} is missing: install rustup's stable toolchain`).toBe(true);
  });

  it("sees through rustup's proxy to the toolchain: its rustc, sysroot and libraries", async () => {
    const d = await detectRustc(realProbe(PROXY));
    expect(d?.family).toBe("rustc");
    const data = d!.data as { sysroot: string; rustcPath: string; proxy: boolean; host: string };
    expect(data.proxy).toBe(true);
    expect(data.rustcPath).toBe(join(data.sysroot, "bin", "rustc"));
    expect(d!.target).toBe(data.host);
    expect(d!.versionText).toMatch(/^rustc \d+\.\d+/);
    expect(d!.identityFiles).toContain(data.rustcPath);
    expect(d!.identityFiles!.some((f) => /librustc_driver-.*\.so$/.test(f))).toBe(true);
    expect(compilerLibraries(data.sysroot)).toEqual(d!.identityFiles!.slice(1));

    // cargo runs the toolchain's rustc directly: the same compiler, no proxy.
    const direct = await detectRustc(realProbe(data.rustcPath));
    expect((direct!.data as { proxy: boolean }).proxy).toBe(false);
    expect(realpathSync((direct!.data as { sysroot: string }).sysroot)).toBe(data.sysroot);
    expect(direct!.versionText).toBe(d!.versionText);
  });

  it("is not fooled by other compilers", async () => {
    if (existsSync("/usr/bin/gcc")) expect(await detectRustc(realProbe("/usr/bin/gcc"))).toBeUndefined();
  });
});

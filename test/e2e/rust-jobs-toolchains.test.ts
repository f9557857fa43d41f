import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";
import { RUSTC_PLUGIN } from "../support/rust-workspace.js";
import { JOBS_WORKSPACE } from "../support/rust-jobs-workspace.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";

/**
 * rustc toolchain archives for any rustc: Debian's /usr/bin/rustc 1.63
 * (sysroot /usr, its rustc_driver and LLVM in /usr/lib/x86_64-linux-gnu) and
 * rustup's proxy, which is packaged as the toolchain it runs. Debian's rustc
 * compiles a crate graph (a transitive crate found in -L dependency=) in
 * hermetic mode, byte-identical to plain compiles in the same directory.
 */

const DEBIAN_RUSTC = "/usr/bin/rustc";
const HOST = "x86_64-unknown-linux-gnu";
let sb: RepriseSandbox;
let dir: string;

beforeAll(() => {
  ensureDebianPackages(["rustc", "bubblewrap"]);
  sb = new RepriseSandbox({ REPRISE_PLUGINS: RUSTC_PLUGIN });
  dir = join(sb.root, "proj");
  mkdirSync(join(dir, "out"), { recursive: true });
}, 600_000);

afterAll(async () => {
  await sb?.dispose();
});

async function inspect(archive: string) {
  const j = await sb.run(["toolchain", "inspect", "--json", archive], dir);
  expect(j.exitCode, text(j.stderr)).toBe(0);
  return JSON.parse(text(j.stdout)) as { id: string; family: string; compilerPath: string; target: string; runsOn: unknown[]; files: { path: string }[] };
}

describe("Debian's rustc 1.63", () => {
  it("is packaged with its driver, LLVM and the target's std, running on x86_64", async () => {
    const p = await sb.run(["--package-toolchain", DEBIAN_RUSTC, "debian-rustc.tar.gz"], dir);
    expect(p.exitCode, text(p.stderr)).toBe(0);
    const m = await inspect("debian-rustc.tar.gz");
    expect(m).toMatchObject({ family: "rustc", compilerPath: DEBIAN_RUSTC, target: HOST, runsOn: [{ arch: "x86_64", os: "linux", bits: 64 }] });
    const paths = m.files.map((f) => f.path);
    expect(paths.some((f) => /^\/usr\/lib\/x86_64-linux-gnu\/librustc_driver-[0-9a-f]+\.so$/.test(f))).toBe(true);
    expect(paths.some((f) => /libLLVM-14\.so/.test(f))).toBe(true);
    expect(paths.some((f) => new RegExp(`^/usr/lib/rustlib/${HOST}/lib/libstd-[0-9a-f]+\\.rlib$`).test(f))).toBe(true);
    rmSync(join(dir, "debian-rustc.tar.gz"));
  }, 300_000);

  it("compiles three crates in hermetic mode (one reached only through -L dependency=), byte-identical to plain compiles", async () => {
    const crates = join(JOBS_WORKSPACE, "crates");
    const out = join(dir, "out");
    const common = ["--edition=2021", "--error-format=json", "--json=diagnostic-rendered-ansi,artifacts", "--emit=dep-info,metadata,link", "-C", "debuginfo=1", "--out-dir", out, "-L", `dependency=${out}`];
    const calls = [
      ["--crate-name", "base", join(crates, "base/src/lib.rs"), "--crate-type", "lib", ...common, "-C", "extra-filename=-b1"],
      ["--crate-name", "mid", join(crates, "mid/src/lib.rs"), "--crate-type", "lib", ...common, "-C", "extra-filename=-m1", "--extern", `base=${out}/libbase-b1.rmeta`],
    ];
    const env = { CARGO_PKG_VERSION: "0.3.1", RJ_FLAVOUR: "debian" };
    const outputs = ["libbase-b1.rlib", "libbase-b1.rmeta", "base-b1.d", "libmid-m1.rlib", "libmid-m1.rmeta", "mid-m1.d"];
    const reference = new Map<string, Buffer>();
    const streams: string[] = [];
    for (const args of calls) {
      const r = await plain(DEBIAN_RUSTC, args, dir, env);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      streams.push(text(r.stderr));
    }
    for (const o of outputs) reference.set(o, readFileSync(join(out, o)));
    rmSync(out, { recursive: true });
    mkdirSync(out);
    await sb.zeroStats();
    for (const [i, args] of calls.entries()) {
      const r = await sb.run([DEBIAN_RUSTC, ...args], dir, { env: { ...env, REPRISE_HERMETIC: "bwrap" } });
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(text(r.stderr)).toBe(streams[i]);
    }
    const s = await sb.stats();
    expect(s.hermetic?.bwrap ?? 0, JSON.stringify(s.fallbacks)).toBe(calls.length);
    for (const o of outputs) expect(readFileSync(join(out, o)).equals(reference.get(o)!), o).toBe(true);
  }, 600_000);
});

describe("rustup's proxy", () => {
  it("is packaged as the toolchain it runs (its own bin/rustc, librustc_driver, the host's std)", async () => {
    const proxy = join(homedir(), ".cargo/bin/rustc");
    const sysroot = text((await plain(proxy, ["--print", "sysroot"], dir)).stdout).trim();
    const p = await sb.run(["--package-toolchain", proxy, "rustup-rustc.tar.gz"], dir);
    expect(p.exitCode, text(p.stderr)).toBe(0);
    const m = await inspect("rustup-rustc.tar.gz");
    expect(m).toMatchObject({ family: "rustc", compilerPath: `${sysroot}/bin/rustc`, target: HOST, runsOn: [{ arch: "x86_64", os: "linux", bits: 64 }] });
    const paths = m.files.map((f) => f.path);
    expect(paths).not.toContain(proxy);
    expect(paths.some((f) => f.startsWith(`${sysroot}/lib/librustc_driver-`))).toBe(true);
    expect(paths.some((f) => f.startsWith(`${sysroot}/lib/rustlib/${HOST}/lib/libcore-`))).toBe(true);
    expect(paths.some((f) => f.includes(`/rustlib/${HOST}/bin/`)), "no linker tools").toBe(false);
  }, 300_000);
});

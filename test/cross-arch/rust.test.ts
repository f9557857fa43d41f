/**
 * Rust across architectures (docs/cross-arch.md), every part a genuine
 * process of its architecture: the ARMv7 scheduler, an x86_64 builder and an
 * aarch64 builder (arm64 Node in the arm64 root). Both clients use Debian's
 * rustc 1.63, described by @reprise/plugin-rustup with `anyRustc` (Debian's
 * build reports no commit hash: release and std digest identify it), and no
 * rustc is shipped: each builder declares Debian's rustc of its own
 * architecture with the std of the client's target (`rust.toolchains`).
 * - An x86_64 client's lib crates compile on the aarch64 builder (pool
 *   preference; the root holds libstd-rust-dev:amd64).
 * - An aarch64 client's (its daemon in the root) go to the x86_64 builder,
 *   which declares a copy of /usr/bin/rustc beside Debian's arm64 std
 *   (scripts/setup-rust-cross-std.sh).
 * Every rlib, rmeta, .d and program is byte-identical to the client's own
 * plain build. The x86_64 client's program links locally: no builder holding
 * its std reports its linker identity (dist-no-builder; `dist.fallback:
 * "fail"` does not fail a job only a linking builder could take). The aarch64
 * client's program links on the aarch64 builder, whose gcc is the client's
 * (the same root), so the identity matches. With the aarch64
 * builder gone, an aarch64 client's crate for x86_64 (a std the x86_64
 * builder does not hold) compiles locally, the reason in stats.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, REPO_ROOT, text } from "../support/reprise-env.js";
import { farmStats as remote } from "../support/farm-client.js";
import { inRoot } from "./support/aarch64-root.js";
import { CrossArchFarm, jobsRun } from "./support/cross-arch-farm.js";

const RUSTC = "/usr/bin/rustc";
const X86 = "x86_64-unknown-linux-gnu";
const ARM64 = "aarch64-unknown-linux-gnu";
const PLUGINS = [join(REPO_ROOT, "packages/plugin-rustc/dist/bundle/index.js"), [join(REPO_ROOT, "packages/plugin-rustup/dist/bundle/index.js"), { anyRustc: true }]];

/** A path-dependency crate graph: three lib crates and a bin. */
const CRATES: Record<string, string> = {
  "base/src/lib.rs": `pub const SCALE: u64 = 7;\npub fn mix(a: u64, b: u64) -> u64 { a.rotate_left(13) ^ b.wrapping_mul(0x9e3779b97f4a7c15) }\n#[derive(Debug, Clone, PartialEq)]\npub struct Point { pub x: f64, pub y: f64 }\nimpl Point { pub fn norm(&self) -> f64 { (self.x * self.x + self.y * self.y).sqrt() } }\n`,
  "mid/src/lib.rs": `use std::collections::BTreeMap;\npub fn histogram(words: &[&str]) -> BTreeMap<String, u64> {\n  let mut h = BTreeMap::new();\n  for w in words { *h.entry(w.to_string()).or_insert(0) += base::SCALE; }\n  h\n}\npub fn digest(s: &str) -> u64 { s.bytes().fold(0, |a, b| base::mix(a, b as u64)) }\n`,
  "top/src/lib.rs": `pub fn report(words: &[&str]) -> String {\n  let h = mid::histogram(words);\n  let p = base::Point { x: h.len() as f64, y: mid::digest(words.join(" ").as_str()) as f64 };\n  format!("{:?} {:.3} {}", h, p.norm(), file!())\n}\n`,
  "app/src/main.rs": `fn main() { println!("{}", top::report(&["a", "b", "a"])); }\n`,
};

let farm: CrossArchFarm;
let crossSysroot: string;

/** The rustc calls cargo would make for the graph (lib crates, then the bin), outputs in `out`. */
function calls(out: string, target?: string): { args: string[]; links: boolean }[] {
  const common = ["--edition=2021", "--error-format=json", "--json=diagnostic-rendered-ansi,artifacts", "-C", "debuginfo=1", "-C", "opt-level=1", "--out-dir", out, "-L", `dependency=${out}`, ...(target ? ["--target", target] : [])];
  const lib = (name: string, externs: string[]) => ({
    args: ["--crate-name", name, `crates/${name}/src/lib.rs`, "--crate-type", "lib", "--emit=dep-info,metadata,link", ...common, "-C", `extra-filename=-${name[0]}1`, ...externs.flatMap((e) => ["--extern", `${e}=${out}/lib${e}-${e[0]}1.rmeta`])],
    links: false,
  });
  return [
    lib("base", []),
    lib("mid", ["base"]),
    lib("top", ["mid", "base"]),
    { args: ["--crate-name", "app", "crates/app/src/main.rs", "--crate-type", "bin", "--emit=dep-info,link", ...common, "-C", "extra-filename=-a1", "--extern", `top=${out}/libtop-t1.rlib`], links: true },
  ];
}

function writeProject(dir: string): void {
  for (const [rel, body] of Object.entries(CRATES)) {
    mkdirSync(join(dir, "crates", rel, ".."), { recursive: true });
    writeFileSync(join(dir, "crates", rel), body);
  }
  writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ plugins: PLUGINS }));
}

function readOutputs(out: string): Map<string, Buffer> {
  return new Map(readdirSync(out).map((n) => [n, readFileSync(join(out, n))]));
}

function expectSameOutputs(out: string, reference: Map<string, Buffer>, what: string): void {
  const got = readOutputs(out);
  expect([...got.keys()].sort()).toEqual([...reference.keys()].sort());
  for (const [name, data] of reference) expect(got.get(name)!.equals(data), `${name} byte-identical to ${what}`).toBe(true);
}

type BuilderStatus = { builderId: string; toolchains: string[]; capabilities?: string[] };
const status = () => farm.status<{ pools: { platform: { arch: string; os: string }; builders: BuilderStatus[] }[] }>();
const farmEnv = (prefer: string) => farm.env(prefer);
/** An aarch64 client: its daemon in the root, logging at info. */
const aarch64Client = (dir: string, env: Record<string, string>) => farm.aarch64Client(dir, { ...env, REPRISE_LOG: "info" });

/** Runs `build` (the reference build of `dir`'s crates into `out`), keeps what it wrote and empties `out` again. */
async function referenceOutputs(out: string, build: () => Promise<void>): Promise<Map<string, Buffer>> {
  mkdirSync(out);
  await build();
  const reference = readOutputs(out);
  rmSync(out, { recursive: true });
  mkdirSync(out);
  return reference;
}

beforeAll(async () => {
  try {
    crossSysroot = execFileSync("bash", [join(REPO_ROOT, "scripts/setup-rust-cross-std.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  } catch (err) {
    throw new Error(`Debian's aarch64 std for the x86_64 builder could not be laid out (scripts/setup-rust-cross-std.sh): ${(err as Error).message}`);
  }
  farm = await CrossArchFarm.start("reprise-cross-rust-", {
    x86: { logLevel: "debug", rust: { toolchains: [{ rustc: join(crossSysroot, "bin/rustc") }] } },
    arm: { logLevel: "debug", rust: { toolchains: [{ rustc: RUSTC }] } },
  });
}, 1_800_000);

afterAll(async () => {
  await farm?.stop();
});

describe("Rust across architectures (Debian's rustc 1.63 declared on both builders)", () => {
  it("each builder reports the descriptors of its declared rustc, one per std it holds", async () => {
    const s = await status();
    const ids = (arch: string) => s.pools.find((p) => p.platform.arch === arch)!.builders[0]!.toolchains.filter((t) => t.startsWith("rustc:"));
    expect(ids("aarch64").map((id) => id.split(":").slice(1, 4).join(":")).sort()).toEqual([`1.63.0:unknown:${ARM64}`, `1.63.0:unknown:${X86}`]);
    expect(ids("x86_64").map((id) => id.split(":").slice(1, 4).join(":"))).toEqual([`1.63.0:unknown:${ARM64}`]);
    // The same std, whoever holds it: Debian's arm64 std in the root and the one unpacked beside the x86_64 builder's rustc.
    expect(ids("x86_64")[0]).toBe(ids("aarch64").find((id) => id.includes(`:${ARM64}:`)));
    // What a user sees: `reprise --dist-status`.
    const client = new RepriseSandbox(farmEnv("linux/aarch64"), "node");
    try {
      const shown = await client.run(["--dist-status"], farm.work);
      expect(shown.exitCode, text(shown.stderr)).toBe(0);
      const out = text(shown.stdout);
      expect(out).toMatch(/pool linux\/aarch64: 1 builder\(s\)\n\s+arm64 http[^\n]*\n\s+rust targets: holds aarch64-unknown-linux-gnu, x86_64-unknown-linux-gnu\n/);
      expect(out).toMatch(/pool linux\/x86_64: 1 builder\(s\)\n\s+x86-64 http[^\n]*\n\s+rust targets: holds aarch64-unknown-linux-gnu\n/);
    } finally {
      await client.dispose();
    }
  });

  it("an x86_64 client's lib crates compile on the aarch64 builder; every rlib, rmeta and .d byte-identical to a local build", async () => {
    const dir = join(farm.work, "x86-client");
    writeProject(dir);
    const out = join(dir, "target");
    const reference = await referenceOutputs(out, async () => {
      for (const c of calls(out)) {
        const r = await plain(RUSTC, c.args, dir);
        expect(r.exitCode, text(r.stderr)).toBe(0);
      }
    });
    expect(reference.has("libtop-t1.rlib") && reference.has("app-a1")).toBe(true);
    const client = new RepriseSandbox({ ...farmEnv("linux/aarch64"), REPRISE_DIST_FALLBACK: "fail" }, "node");
    try {
      const before = jobsRun(farm.armBuilder!);
      for (const c of calls(out)) {
        const r = await client.run([RUSTC, ...c.args], dir);
        expect(r.exitCode, text(r.stderr)).toBe(0);
      }
      expectSameOutputs(out, reference, "the local build");
      const s = await client.stats();
      expect(s.fallbacks).toEqual({ "dist-no-builder": 1 });
      expect(remote(s).compiles).toBe(3);
      expect(remote(s).bytesUploaded, "no rustc shipped, only sources and metadata").toBeLessThan(1_000_000);
      expect(jobsRun(farm.armBuilder!) - before, farm.armBuilder!.output().slice(-3000)).toBe(3);
    } finally {
      await client.dispose();
    }
  });

  it("an aarch64 client's lib crates (its daemon in the arm64 root) compile on the x86_64 builder and its program links on the aarch64 builder, equal to its own local build", async () => {
    const dir = join(farm.work, "arm64-client");
    writeProject(dir);
    const out = join(dir, "target");
    const reference = await referenceOutputs(out, async () => {
      for (const c of calls(out)) {
        const r = await inRoot(farm.session, [RUSTC, ...c.args], { cwd: dir });
        expect(r.exitCode, text(r.stderr)).toBe(0);
      }
    });
    expect(reference.get("app-a1")!.readUInt16LE(18), "an aarch64 program (e_machine 183)").toBe(183);
    const reprise = await aarch64Client(dir, { ...farmEnv("linux/x86_64"), REPRISE_DIST_FALLBACK: "fail" });
    try {
      const before = jobsRun(farm.x86Builder);
      const armBefore = jobsRun(farm.armBuilder!);
      for (const c of calls(out)) {
        const r = await reprise([RUSTC, ...c.args]);
        expect(r.exitCode, text(r.stderr)).toBe(0);
      }
      expectSameOutputs(out, reference, "the aarch64 client's local build");
      const s = await reprise.stats();
      // The lib crates go to the preferred x86_64 pool; the program links on the aarch64 builder, the only one
      // reporting the client's linker identity for aarch64 (its root's gcc is the client's).
      expect(s.fallbacks, `${JSON.stringify(s)}\n${reprise.log()}`).toEqual({});
      expect(remote(s).compiles).toBe(4);
      expect(jobsRun(farm.x86Builder) - before, farm.x86Builder.output().slice(-3000)).toBe(3);
      expect(jobsRun(farm.armBuilder!) - armBefore, farm.armBuilder!.output().slice(-3000)).toBe(1);
    } finally {
      await reprise(["--stop-server"]);
    }
  });

  it("a crate no builder can take (an aarch64 client's x86_64 crate, the aarch64 builder gone) compiles locally, the reason in stats", async () => {
    await farm.stopArmBuilder();
    const dir = join(farm.work, "arm64-for-x86");
    writeProject(dir);
    const out = join(dir, "target");
    const base = calls(out, X86)[0]!;
    const reference = await referenceOutputs(out, async () => {
      const ref = await inRoot(farm.session, [RUSTC, ...base.args], { cwd: dir });
      expect(ref.exitCode, text(ref.stderr)).toBe(0);
    });
    const reprise = await aarch64Client(dir, farmEnv("linux/x86_64"));
    try {
      const before = jobsRun(farm.x86Builder);
      const r = await reprise([RUSTC, ...base.args]);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expectSameOutputs(out, reference, "the local compile");
      const s = await reprise.stats();
      expect(remote(s).compiles).toBe(0);
      // The x86_64 builder holds Debian's aarch64 std only; the rustc archive the client falls back to runs on aarch64 alone.
      expect(s.fallbacks).toEqual({ "dist-no-builder": 1 });
      expect(jobsRun(farm.x86Builder)).toBe(before);
    } finally {
      await reprise(["--stop-server"]);
    }
  });
});

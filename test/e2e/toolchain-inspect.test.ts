import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, hashBytes, ToolchainStore, writeToolchainArchive, type CompilerInfo, type CompilerProbe } from "@reprise/core";
import { detectGcc, gccPlugin, gccToolchainSpec, type CompilerRunner } from "@reprise/plugin-gcc";
import { BwrapSandbox } from "@reprise/plugin-sandbox-bwrap";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, text } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { arm64GccRoot, ensureAarch64Emulation } from "../support/sandbox-arm64.js";
import { makeJob, makeMaterials, TestInputStore } from "../support/sandbox-toolchain.js";

/**
 * `reprise toolchain inspect` (the real command line) on archives of
 * compilers of another architecture, which must be described from their own
 * ELF headers, never from this x86_64 host:
 *
 * - Debian's `aarch64-linux-gnu-gcc`, packaged with `reprise
 *   --package-toolchain`: an x86_64 program that targets aarch64;
 * - Debian's arm64 gcc-12 (an aarch64 program, from the arm64 packages
 *   unpacked into a directory, aarch64-builder-on-x86.md), packaged by the
 *   gcc plugin from that root: runs on aarch64. Its archive is then unpacked
 *   into a toolchain store and run (under qemu-user) in the bwrap sandbox with
 *   nothing else: the object is byte-identical to the one the same gcc
 *   writes from the full root, so the archive holds all an aarch64 builder
 *   needs.
 */

let sb: RepriseSandbox;
let dir: string;

beforeAll(() => {
  ensureDebianPackages(["gcc-aarch64-linux-gnu", "bubblewrap"]);
  sb = new RepriseSandbox();
  dir = join(sb.root, "archives");
  mkdirSync(dir, { recursive: true });
}, 600_000);

afterAll(async () => {
  await sb.dispose();
});

async function inspect(archive: string) {
  const t = await sb.run(["toolchain", "inspect", archive], dir);
  expect(t.exitCode, text(t.stderr)).toBe(0);
  const j = await sb.run(["toolchain", "inspect", "--json", archive], dir);
  expect(j.exitCode, text(j.stderr)).toBe(0);
  return { text: text(t.stdout), json: JSON.parse(text(j.stdout)) };
}

describe("an x86_64 cross compiler targeting aarch64", () => {
  it("is packaged by reprise --package-toolchain and inspected as running on x86_64, targeting aarch64", async () => {
    const p = await sb.run(["--package-toolchain", "aarch64-linux-gnu-gcc", "cross.tar.gz"], dir);
    expect(p.exitCode, text(p.stderr)).toBe(0);
    expect(text(p.stdout)).toContain("runs on x86_64 (linux, 64-bit), targets aarch64-linux-gnu");
    const { text: out, json } = await inspect("cross.tar.gz");
    expect(out).toMatch(/^runs on: +x86_64 \(linux, 64-bit\)$/m);
    expect(out).toMatch(/^targets: +aarch64-linux-gnu$/m);
    expect(out).toMatch(/^compiler: +gcc 12\.\d+\.\d+ at \/usr\/bin\/aarch64-linux-gnu-gcc$/m);
    expect(json).toMatchObject({ family: "gcc", target: "aarch64-linux-gnu", runsOn: [{ arch: "x86_64", os: "linux", bits: 64 }] });
    expect(text(p.stdout)).toContain(json.id);
  });
});

describe("an aarch64-hosted gcc", () => {
  let root: string;
  let archive: string;
  let id: string;

  beforeAll(() => {
    ensureAarch64Emulation();
    root = arm64GccRoot();
  }, 600_000);

  /** Runs the arm64 gcc from its own root, read-only, with `binds` (qemu-user runs it through binfmt_misc). */
  const inRoot = (args: string[], binds: string[][] = [], cwd = "/") =>
    execa("bwrap", ["--ro-bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", ...binds.flat(), "--chdir", cwd, "--clearenv", "--setenv", "LC_ALL", "C", "--setenv", "PATH", "/usr/bin:/bin", "/usr/bin/gcc-12", ...args], {
      reject: false,
      encoding: "buffer",
    });

  it("is packaged from its root and inspected as running on aarch64", async () => {
    const run: CompilerRunner = async (args) => {
      const r = await inRoot(args);
      return { stdout: text(r.stdout), stderr: text(r.stderr), exitCode: r.exitCode ?? 1 };
    };
    // It really is an aarch64 program, and it runs here only through emulation.
    expect(readFileSync(join(root, "usr/bin/aarch64-linux-gnu-gcc-12")).readUInt16LE(18)).toBe(183); // EM_AARCH64
    expect((await run(["-dumpmachine"])).stdout.trim()).toBe("aarch64-linux-gnu");
    const probe: CompilerProbe = { path: "/usr/bin/gcc-12", realPath: "/usr/bin/aarch64-linux-gnu-gcc-12", invokedName: "gcc-12", run };
    const detection = await detectGcc(probe);
    expect(detection).toBeDefined();
    const info: CompilerInfo = { ...detection!, identity: hashBytes(readFileSync(join(root, "usr/bin/aarch64-linux-gnu-gcc-12"))) };
    const spec = await gccToolchainSpec(info, { sysroot: root, run, pathEnv: "/usr/bin:/bin" });
    const engine = new Engine().use(gccPlugin);
    const runsOn = await engine.hooks.resolveArchitecture.promise({ toolchain: spec });
    archive = join(dir, "arm64-gcc.tar.gz");
    id = (await writeToolchainArchive(spec, runsOn!, archive)).id;

    const { text: out, json } = await inspect(archive);
    expect(out).toMatch(/^runs on: +aarch64 \(linux, 64-bit\)$/m);
    expect(out).toMatch(/^targets: +aarch64-linux-gnu$/m);
    expect(out).toMatch(/^compiler: +gcc 12\.\d+\.\d+ at \/usr\/bin\/gcc-12$/m);
    expect(out).toMatch(/file {2}\/usr\/lib\/gcc\/aarch64-linux-gnu\/12\/cc1 .*\(program\)/);
    expect(json).toMatchObject({ id, family: "gcc", compilerPath: "/usr/bin/gcc-12", target: "aarch64-linux-gnu", runsOn: [{ arch: "aarch64", os: "linux", bits: 64 }] });
    // Nothing of this machine's x86_64 files.
    expect(json.files.some((f: { path: string }) => f.path.includes("x86_64"))).toBe(false);
  }, 180_000);

  it("runs from its unpacked archive in the bwrap sandbox and compiles the object the full root compiles", async () => {
    expect(archive, "packaged by the previous test").toBeDefined();
    const work = join(sb.root, "arm64-work");
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, "k.c"), "static int table[4] = {1, 2, 3, 5};\nint kernel(int i) { return table[i & 3] * 7 + i; }\n");
    const argv = ["/usr/bin/gcc-12", "-O2", "-g", "-nostdinc", "-c", "k.c", "-o", "k.o"];
    const ref = await inRoot(argv.slice(1), [["--bind", work, work]], work);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const reference = readFileSync(join(work, "k.o"));
    expect(reference.readUInt16LE(18)).toBe(183);

    const store = new ToolchainStore({ dir: join(sb.root, "store") });
    const lease = await store.acquire(id, archive);
    try {
      const inputs = new TestInputStore(join(sb.root, "blobs"));
      const job = makeJob(argv, work, [inputs.put(join(work, "k.c"))], [{ role: "object", path: join(work, "k.o") }], { toolchainId: id, env: { PATH: "/usr/bin:/bin", LC_ALL: "C" } });
      const result = await new BwrapSandbox().run(job, makeMaterials(lease.root, inputs, join(sb.root, "scratch")));
      expect(result.exitCode, result.stderr.toString()).toBe(0);
      const object = result.outputs.find((o) => o.role === "object")?.data;
      expect(object?.equals(reference), "the packaged aarch64 gcc writes the object its full root writes").toBe(true);
    } finally {
      lease.release();
    }
    // The compiler the sandbox ran is the aarch64 program: no x86_64 compiler is in the toolchain at all.
    expect(readFileSync(join(lease.root, "usr/bin/gcc-12")).readUInt16LE(18)).toBe(183);
  }, 180_000);
});

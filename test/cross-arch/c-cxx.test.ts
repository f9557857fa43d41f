/**
 * C and C++ across architectures, every part a genuine process of its
 * architecture (docs/cross-arch.md): the scheduler is npm's ARMv7 Node 20.11
 * under qemu-arm; one builder is x86_64 (this machine), the other an aarch64
 * Node in the arm64 root, whose jobs run the root's aarch64 clang under its
 * amd64 bwrap. An x86_64 client's C/C++ compiles go to the aarch64 builder
 * (pool preference), an aarch64 client's (its daemon in the root) to the
 * x86_64 builder; every object is byte-identical to the client's own plain
 * compile. With the aarch64 builder gone, an aarch64 gcc job no builder can
 * take compiles locally, the reason in the stats.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";
import { farmStats as remote } from "../support/farm-client.js";
import { gccPortableToolchain } from "@reprise/plugin-gcc";
import { inRoot, ROOT_REPRISE } from "./support/aarch64-root.js";
import { CrossArchFarm, jobsRun } from "./support/cross-arch-farm.js";

const CLANG = "/usr/bin/clang-14";
const X86_TRIPLE = "x86_64-pc-linux-gnu";
const ARM64_TRIPLE = "aarch64-unknown-linux-gnu";
/** Debian's aarch64-hosted gcc for x86_64 in the arm64 root: a separate build of gcc 12 (see the gcc test). */
const ROOT_CROSS_GCC = "/usr/bin/x86_64-linux-gnu-gcc-12";

/** A small C and C++ project: what a compile of each file looks like (flags chosen to exercise debug info and C++ headers). */
const SOURCES: Record<string, string> = {
  "geometry.c": `#include <math.h>\n#include <stdio.h>\n#include <string.h>\nstruct vec { double x, y; };\ndouble norm(struct vec v) { return sqrt(v.x * v.x + v.y * v.y); }\nint describe(char *out, size_t n, struct vec v) { return snprintf(out, n, "%s:%d (%g, %g) |%g|", __FILE__, __LINE__, v.x, v.y, norm(v)); }\n`,
  "table.c": `#include <stdlib.h>\n#include <stdint.h>\n#include "table.h"\nuint32_t checksum(const uint8_t *p, size_t n) { uint32_t h = 2166136261u; for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u; return h; }\nint *make_table(int n) { int *t = calloc((size_t)n, sizeof *t); for (int i = 0; i < n; i++) t[i] = TABLE_SCALE * i; return t; }\n`,
  "table.h": `#define TABLE_SCALE 7\n`,
  "index.cpp": `#include <map>\n#include <string>\n#include <vector>\n#include <algorithm>\nstd::map<std::string, std::vector<int>> build(const std::vector<std::string> &words) {\n  std::map<std::string, std::vector<int>> index;\n  for (size_t i = 0; i < words.size(); i++) index[words[i]].push_back(static_cast<int>(i));\n  for (auto &entry : index) std::sort(entry.second.begin(), entry.second.end());\n  return index;\n}\n`,
};
const COMPILES: { source: string; object: string; flags: string[] }[] = [
  { source: "geometry.c", object: "geometry.o", flags: ["-O2", "-g"] },
  { source: "table.c", object: "table.o", flags: ["-O1", "-gdwarf-4", "-I."] },
  { source: "index.cpp", object: "index.o", flags: ["-O2", "-g", "-std=c++17"] },
];

let farm: CrossArchFarm;

function writeProject(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(SOURCES)) writeFileSync(join(dir, name), body);
}

type Status = { pools: { platform: { arch: string; os: string }; builders: { builderId: string; held?: { compilerPath: string; targets: { target: string }[] }[] }[] }[] };
const status = () => farm.status<Status>();
const farmEnv = (prefer: string) => farm.env(prefer);

/**
 * Compiles each of COMPILES in `dir` with `compile` (the reference: a plain compile here or in the root), keeping
 * each object's bytes and removing the file.
 */
async function referenceObjects(dir: string, compile: (c: (typeof COMPILES)[number]) => Promise<{ exitCode?: number; stderr: unknown }>): Promise<Map<string, Buffer>> {
  const reference = new Map<string, Buffer>();
  for (const c of COMPILES) {
    const r = await compile(c);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    reference.set(c.object, readFileSync(join(dir, c.object)));
    rmSync(join(dir, c.object));
  }
  return reference;
}

/** Compiles each of COMPILES through Reprise with `run` and expects each object to equal `reference` (`what`: the reference's name). */
async function expectObjectsLike(dir: string, reference: Map<string, Buffer>, what: string, run: (argv: string[]) => Promise<{ exitCode?: number; stderr: unknown }>): Promise<void> {
  for (const c of COMPILES) {
    const r = await run(["clang-14", ...c.flags, "-c", c.source, "-o", c.object]);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(readFileSync(join(dir, c.object)).equals(reference.get(c.object)!), `${c.object} byte-identical to ${what}`).toBe(true);
  }
}

beforeAll(async () => {
  farm = await CrossArchFarm.start("reprise-cross-arch-", {
    x86: { logLevel: "debug", toolchains: [{ compiler: CLANG, targets: [ARM64_TRIPLE] }] },
    arm: { logLevel: "debug", toolchains: [{ compiler: CLANG, targets: [X86_TRIPLE] }, { compiler: ROOT_CROSS_GCC, targets: ["x86_64-linux-gnu"] }] },
  });
}, 1_800_000);

afterAll(async () => {
  await farm?.stop();
});

describe("C and C++ across architectures (ARMv7 scheduler, x86_64 and aarch64 builders)", () => {
  it("pools per platform; each builder says which toolchains it holds and for which targets", async () => {
    const s = await status();
    const arm = s.pools.find((p) => p.platform.arch === "aarch64")!.builders[0]!;
    expect(arm.builderId).toBe("arm64");
    expect(arm.held?.map((h) => [h.compilerPath, h.targets.map((t) => t.target)])).toEqual([
      [CLANG, [X86_TRIPLE]],
      [ROOT_CROSS_GCC, ["x86_64-linux-gnu"]],
    ]);
    const x86 = s.pools.find((p) => p.platform.arch === "x86_64")!.builders[0]!;
    expect(x86.held?.map((h) => [h.compilerPath, h.targets.map((t) => t.target)])).toEqual([[CLANG, [ARM64_TRIPLE]]]);
    // What a user sees: `reprise --dist-status`.
    const client = new RepriseSandbox(farmEnv("linux/aarch64"), "node");
    try {
      const shown = await client.run(["--dist-status"], farm.work);
      expect(shown.exitCode, text(shown.stderr)).toBe(0);
      const out = text(shown.stdout);
      expect(out).toMatch(/pool linux\/aarch64: 1 builder\(s\)\n\s+arm64 http[^\n]*\n\s+holds clang 14\.0\.6 at \/usr\/bin\/clang-14, takes jobs for x86_64-pc-linux-gnu/);
      expect(out).toMatch(/pool linux\/x86_64: 1 builder\(s\)\n\s+x86-64 http[^\n]*\n\s+holds clang 14\.0\.6 at \/usr\/bin\/clang-14, takes jobs for aarch64-unknown-linux-gnu/);
    } finally {
      await client.dispose();
    }
  });

  it("an x86_64 client's C and C++ compile on the aarch64 builder, byte-identical to local compiles", async () => {
    const dir = join(farm.work, "x86-client");
    writeProject(dir);
    const reference = await referenceObjects(dir, (c) => plain(CLANG, [...c.flags, "-c", c.source, "-o", c.object], dir));
    const client = new RepriseSandbox({ ...farmEnv("linux/aarch64"), REPRISE_DIST_FALLBACK: "fail" }, "node");
    try {
      const before = jobsRun(farm.armBuilder!);
      await expectObjectsLike(dir, reference, "the local compile", (argv) => client.run(argv, dir));
      const s = await client.stats();
      expect(s.fallbacks).toEqual({});
      expect(remote(s).compiles).toBe(COMPILES.length);
      expect(jobsRun(farm.armBuilder!) - before, farm.armBuilder!.output().slice(-2000)).toBe(COMPILES.length);
    } finally {
      await client.dispose();
    }
  });

  it("an aarch64 client's compiles (its daemon in the arm64 root) go to the x86_64 builder, equal to its own local compiles", async () => {
    const dir = join(farm.work, "arm64-client");
    writeProject(dir);
    const reference = await referenceObjects(dir, (c) => inRoot(farm.session, ["clang-14", ...c.flags, "-c", c.source, "-o", c.object], { cwd: dir }));
    expect(reference.get("geometry.o")!.readUInt16LE(18), "an aarch64 object (e_machine 183)").toBe(183);
    const reprise = await farm.aarch64Client(dir, { ...farmEnv("linux/x86_64"), REPRISE_DIST_FALLBACK: "fail" });
    try {
      const before = jobsRun(farm.x86Builder);
      await expectObjectsLike(dir, reference, "the aarch64 client's local compile", reprise);
      const s = await reprise.stats();
      expect(s.fallbacks).toEqual({});
      expect(remote(s).compiles).toBe(COMPILES.length);
      expect(jobsRun(farm.x86Builder) - before, farm.x86Builder.output().slice(-2000)).toBe(COMPILES.length);
    } finally {
      await reprise(["--stop-server"]);
    }
  });

  it("a declared toolchain: the x86_64 client uploads an aarch64 clang archive made in the root; objects byte-identical", async () => {
    const dir = join(farm.work, "declared");
    writeProject(dir);
    // Packaged where it runs, with the equivalence for the client's target recorded in it.
    const archive = join(dir, "clang-aarch64.tar.gz");
    const packed = await inRoot(farm.session, [...ROOT_REPRISE, "--package-toolchain", CLANG, archive, "--target", X86_TRIPLE], { cwd: dir, env: { REPRISE_DIR: join(dir, ".pack-cache") } });
    expect(packed.exitCode, text(packed.stderr)).toBe(0);
    expect(text(packed.stdout)).toMatch(/runs on aarch64 \(linux, 64-bit\)/);
    expect(text(packed.stdout)).toContain(`equivalent for ${X86_TRIPLE}:`);
    writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ dist: { toolchains: { [CLANG]: [archive] } } }));
    const reference = await referenceObjects(dir, (c) => plain(CLANG, [...c.flags, "-c", c.source, "-o", c.object], dir));
    // Without equivalents held by builders (crossArch off), only the declared archive can take the job on aarch64.
    const client = new RepriseSandbox({ ...farmEnv("linux/aarch64"), REPRISE_DIST_FALLBACK: "fail", REPRISE_DIST_CROSS_ARCH: "0" }, "node");
    try {
      const before = jobsRun(farm.armBuilder!);
      await expectObjectsLike(dir, reference, "the local compile", (argv) => client.run(argv, dir));
      const s = await client.stats();
      expect(s.fallbacks).toEqual({});
      expect(remote(s).bytesUploaded, "the archive went up").toBeGreaterThan(10_000_000);
      expect(jobsRun(farm.armBuilder!) - before).toBe(COMPILES.length);
    } finally {
      await client.dispose();
    }
  });

  it("gcc: the aarch64 builder's cross gcc is another build (its .comment differs), so an x86_64 client's gcc jobs never go there", async () => {
    const s = await status();
    const armGcc = s.pools.find((p) => p.platform.arch === "aarch64")!.builders[0]!.held!.find((h) => h.compilerPath === ROOT_CROSS_GCC)!;
    const versionText = text((await plain("gcc-12", ["--version"], farm.work)).stdout);
    const mine = await gccPortableToolchain({ family: "gcc", path: "/usr/bin/gcc-12", realPath: "/usr/bin/gcc-12", version: "12", versionText, target: "x86_64-linux-gnu", identity: "x" }, "x86_64-linux-gnu");
    expect(mine?.equivalence).toMatch(/^[0-9a-f]{64}$/);
    expect((armGcc.targets[0] as { equivalence?: string }).equivalence).not.toBe(mine!.equivalence);
    // Why: the same source, compiled by each, differs in the compiler's own identification.
    const dir = join(farm.work, "gcc-comment");
    writeProject(dir);
    await plain("gcc-12", ["-O2", "-c", "table.c", "-o", "native.o"], dir);
    await inRoot(farm.session, [ROOT_CROSS_GCC, "-O2", "-c", "table.c", "-o", "cross.o"], { cwd: dir });
    const comment = (f: string) => text(execFileSync("objdump", ["-s", "-j", ".comment", join(dir, f)]));
    expect(comment("native.o")).not.toBe(comment("cross.o"));

    const client = new RepriseSandbox({ ...farmEnv("linux/aarch64"), REPRISE_DIST_FALLBACK: "fail" }, "node");
    try {
      const [armBefore, x86Before] = [jobsRun(farm.armBuilder!), jobsRun(farm.x86Builder)];
      const r = await client.run(["gcc-12", "-O2", "-c", "table.c", "-o", "table.o"], dir);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(readFileSync(join(dir, "table.o")).equals(readFileSync(join(dir, "native.o")))).toBe(true);
      expect(remote(await client.stats()).compiles).toBe(1);
      expect(jobsRun(farm.armBuilder!)).toBe(armBefore);
      expect(jobsRun(farm.x86Builder)).toBe(x86Before + 1);
    } finally {
      await client.dispose();
    }
  });

  it("a job no builder can take (aarch64 gcc, the aarch64 builder gone) compiles locally, the reason in stats", async () => {
    await farm.stopArmBuilder();
    const dir = join(farm.work, "arm64-gcc");
    writeProject(dir);
    const ref = await inRoot(farm.session, ["gcc", "-O2", "-c", "table.c", "-o", "table.o"], { cwd: dir });
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const reference = readFileSync(join(dir, "table.o"));
    rmSync(join(dir, "table.o"));
    const reprise = await farm.aarch64Client(dir, farmEnv("linux/x86_64"));
    try {
      const r = await reprise(["gcc", "-O2", "-c", "table.c", "-o", "table.o"]);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(readFileSync(join(dir, "table.o")).equals(reference)).toBe(true);
      const s = await reprise.stats();
      expect(remote(s).compiles).toBe(0);
      expect(s.fallbacks).toEqual({ "dist-no-builder": 1 });
    } finally {
      await reprise(["--stop-server"]);
    }
  });
});

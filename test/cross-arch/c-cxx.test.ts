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
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { plain, RepriseSandbox, text, type StatsJson } from "../support/reprise-env.js";
import { startBuilder, type FarmProcess } from "../support/farm-processes.js";
import { startSchedulerProcess, farmRequest, type SchedulerProcess } from "../../packages/dist/test/support/scheduler-process.js";
import { armv7Node } from "../../packages/dist/test/support/armv7-node.js";
import { gccPortableToolchain } from "@reprise/plugin-gcc";
import { inRoot, ROOT_REPRISE, startAarch64Builder, type RootSession } from "./support/aarch64-root.js";

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

let session: RootSession;
let work: string;
let sched: SchedulerProcess;
let x86Builder: FarmProcess;
let armBuilder: FarmProcess | undefined;

const remote = (s: StatsJson) => s.remote?.farm ?? { compiles: 0, bytesUploaded: 0, roundTrips: 0 };

function writeProject(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(SOURCES)) writeFileSync(join(dir, name), body);
}

function farmEnv(prefer: string): Record<string, string> {
  return {
    REPRISE_DIST_SCHEDULER_URL: sched.url,
    REPRISE_DIST_TOKEN: sched.clientToken,
    REPRISE_DIST_MODE: "always",
    REPRISE_DIST_PREFER_PLATFORM: prefer,
    REPRISE_DIST_JOB_TIMEOUT_MS: "600000",
    REPRISE_DIST_ALLOCATE_TIMEOUT_MS: "5000",
  };
}

async function status(): Promise<{ pools: { platform: { arch: string; os: string }; builders: { builderId: string; held?: { compilerPath: string; targets: { target: string }[] }[] }[] }[] }> {
  return (await farmRequest(sched.url, "GET", "/v1/status", { token: sched.clientToken })).body;
}

async function waitForPools(expected: string[]): Promise<void> {
  let seen: string[] = [];
  for (let i = 0; i < 600; i++) {
    seen = (await status()).pools.map((p) => `${p.platform.os}/${p.platform.arch}`).sort();
    if (JSON.stringify(seen) === JSON.stringify(expected)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the scheduler's pools are ${seen.join(", ")}, not ${expected.join(", ")}`);
}

/**
 * The client command of an aarch64 client whose daemon runs in the root. An
 * emulated daemon takes longer to start than a client waits for one (it would
 * compile without cache): it is started and waited for first.
 */
async function aarch64Client(dir: string, env: Record<string, string>) {
  const runtimeDir = mkdtempSync(join(work, "run-"));
  const full = { ...env, REPRISE_DIR: join(dir, ".cache"), REPRISE_RUNTIME_DIR: runtimeDir, REPRISE_IDLE_TIMEOUT: "600" };
  const reprise = (args: string[]) => inRoot(session, [...ROOT_REPRISE, ...args], { cwd: dir, env: full, detached: true });
  await reprise(["--start-server"]);
  for (let i = 0; i < 240 && !existsSync(join(runtimeDir, "daemon.sock")); i++) await new Promise((r) => setTimeout(r, 500));
  const st = await reprise(["--show-stats", "--json"]);
  expect(st.exitCode, `the aarch64 daemon did not start: ${text(st.stderr)}`).toBe(0);
  return reprise;
}

/** Job lines a builder logged (debug): "job <id>: <argv0> with toolchain ..., exit status N". */
const jobsRun = (b: FarmProcess) => (b.output().match(/job [0-9a-f-]+: /g) ?? []).length;

beforeAll(async () => {
  session = { root: inject("aarch64Root"), workDirs: [] };
  work = mkdtempSync(join(tmpdir(), "reprise-cross-arch-"));
  chmodSync(work, 0o755);
  session.workDirs.push(work);
  sched = await startSchedulerProcess({ node: armv7Node(), timeoutMs: 300_000, config: { heartbeatIntervalMs: 2000, missedHeartbeats: 3 } });
  const builderBase = { schedulerUrl: sched.url, token: sched.builderToken, maxJobs: 2, extra: { logLevel: "debug" } };
  [x86Builder, armBuilder] = await Promise.all([
    startBuilder({ ...builderBase, builderId: "x86-64", dataDir: join(work, "builder-x86"), extra: { logLevel: "debug", toolchains: [{ compiler: CLANG, targets: [ARM64_TRIPLE] }] } }),
    startAarch64Builder(session, { ...builderBase, builderId: "arm64", dataDir: join(work, "builder-arm64"), extra: { logLevel: "debug", toolchains: [{ compiler: CLANG, targets: [X86_TRIPLE] }, { compiler: ROOT_CROSS_GCC, targets: ["x86_64-linux-gnu"] }] } }),
  ]);
  await waitForPools(["linux/aarch64", "linux/x86_64"]);
}, 1_800_000);

afterAll(async () => {
  await Promise.all([x86Builder?.kill(), armBuilder?.kill()]);
  await sched?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
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
      const shown = await client.run(["--dist-status"], work);
      expect(shown.exitCode, text(shown.stderr)).toBe(0);
      const out = text(shown.stdout);
      expect(out).toMatch(/pool linux\/aarch64: 1 builder\(s\)\n\s+arm64 http[^\n]*\n\s+holds clang 14\.0\.6 at \/usr\/bin\/clang-14, takes jobs for x86_64-pc-linux-gnu/);
      expect(out).toMatch(/pool linux\/x86_64: 1 builder\(s\)\n\s+x86-64 http[^\n]*\n\s+holds clang 14\.0\.6 at \/usr\/bin\/clang-14, takes jobs for aarch64-unknown-linux-gnu/);
    } finally {
      await client.dispose();
    }
  });

  it("an x86_64 client's C and C++ compile on the aarch64 builder, byte-identical to local compiles", async () => {
    const dir = join(work, "x86-client");
    writeProject(dir);
    const reference = new Map<string, Buffer>();
    for (const c of COMPILES) {
      const r = await plain(CLANG, [...c.flags, "-c", c.source, "-o", c.object], dir);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      reference.set(c.object, readFileSync(join(dir, c.object)));
      rmSync(join(dir, c.object));
    }
    const client = new RepriseSandbox({ ...farmEnv("linux/aarch64"), REPRISE_DIST_FALLBACK: "fail" }, "node");
    try {
      const before = jobsRun(armBuilder!);
      for (const c of COMPILES) {
        const r = await client.run(["clang-14", ...c.flags, "-c", c.source, "-o", c.object], dir);
        expect(r.exitCode, text(r.stderr)).toBe(0);
        expect(readFileSync(join(dir, c.object)).equals(reference.get(c.object)!), `${c.object} byte-identical to the local compile`).toBe(true);
      }
      const s = await client.stats();
      expect(s.fallbacks).toEqual({});
      expect(remote(s).compiles).toBe(COMPILES.length);
      expect(jobsRun(armBuilder!) - before, armBuilder!.output().slice(-2000)).toBe(COMPILES.length);
    } finally {
      await client.dispose();
    }
  });

  it("an aarch64 client's compiles (its daemon in the arm64 root) go to the x86_64 builder, equal to its own local compiles", async () => {
    const dir = join(work, "arm64-client");
    writeProject(dir);
    const reference = new Map<string, Buffer>();
    for (const c of COMPILES) {
      const r = await inRoot(session, ["clang-14", ...c.flags, "-c", c.source, "-o", c.object], { cwd: dir });
      expect(r.exitCode, text(r.stderr)).toBe(0);
      reference.set(c.object, readFileSync(join(dir, c.object)));
      rmSync(join(dir, c.object));
    }
    expect(reference.get("geometry.o")!.readUInt16LE(18), "an aarch64 object (e_machine 183)").toBe(183);
    const reprise = await aarch64Client(dir, { ...farmEnv("linux/x86_64"), REPRISE_DIST_FALLBACK: "fail" });
    try {
      const before = jobsRun(x86Builder);
      for (const c of COMPILES) {
        const r = await reprise(["clang-14", ...c.flags, "-c", c.source, "-o", c.object]);
        expect(r.exitCode, text(r.stderr)).toBe(0);
        expect(readFileSync(join(dir, c.object)).equals(reference.get(c.object)!), `${c.object} byte-identical to the aarch64 client's local compile`).toBe(true);
      }
      const st = await reprise(["--show-stats", "--json"]);
      const s = JSON.parse(text(st.stdout)).stats as StatsJson;
      expect(s.fallbacks).toEqual({});
      expect(remote(s).compiles).toBe(COMPILES.length);
      expect(jobsRun(x86Builder) - before, x86Builder.output().slice(-2000)).toBe(COMPILES.length);
    } finally {
      await reprise(["--stop-server"]);
    }
  });

  it("a declared toolchain: the x86_64 client uploads an aarch64 clang archive made in the root; objects byte-identical", async () => {
    const dir = join(work, "declared");
    writeProject(dir);
    // Packaged where it runs, with the equivalence for the client's target recorded in it.
    const archive = join(dir, "clang-aarch64.tar.gz");
    const packed = await inRoot(session, [...ROOT_REPRISE, "--package-toolchain", CLANG, archive, "--target", X86_TRIPLE], { cwd: dir, env: { REPRISE_DIR: join(dir, ".pack-cache") } });
    expect(packed.exitCode, text(packed.stderr)).toBe(0);
    expect(text(packed.stdout)).toMatch(/runs on aarch64 \(linux, 64-bit\)/);
    expect(text(packed.stdout)).toContain(`equivalent for ${X86_TRIPLE}:`);
    writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ dist: { toolchains: { [CLANG]: [archive] } } }));
    const reference = new Map<string, Buffer>();
    for (const c of COMPILES) {
      expect((await plain(CLANG, [...c.flags, "-c", c.source, "-o", c.object], dir)).exitCode).toBe(0);
      reference.set(c.object, readFileSync(join(dir, c.object)));
      rmSync(join(dir, c.object));
    }
    // Without equivalents held by builders (crossArch off), only the declared archive can take the job on aarch64.
    const client = new RepriseSandbox({ ...farmEnv("linux/aarch64"), REPRISE_DIST_FALLBACK: "fail", REPRISE_DIST_CROSS_ARCH: "0" }, "node");
    try {
      const before = jobsRun(armBuilder!);
      for (const c of COMPILES) {
        const r = await client.run(["clang-14", ...c.flags, "-c", c.source, "-o", c.object], dir);
        expect(r.exitCode, text(r.stderr)).toBe(0);
        expect(readFileSync(join(dir, c.object)).equals(reference.get(c.object)!), `${c.object} byte-identical to the local compile`).toBe(true);
      }
      const s = await client.stats();
      expect(s.fallbacks).toEqual({});
      expect(remote(s).bytesUploaded, "the archive went up").toBeGreaterThan(10_000_000);
      expect(jobsRun(armBuilder!) - before).toBe(COMPILES.length);
    } finally {
      await client.dispose();
    }
  });

  it("gcc: the aarch64 builder's cross gcc is another build (its .comment differs), so an x86_64 client's gcc jobs never go there", async () => {
    const s = await status();
    const armGcc = s.pools.find((p) => p.platform.arch === "aarch64")!.builders[0]!.held!.find((h) => h.compilerPath === ROOT_CROSS_GCC)!;
    const versionText = text((await plain("gcc-12", ["--version"], work)).stdout);
    const mine = await gccPortableToolchain({ family: "gcc", path: "/usr/bin/gcc-12", realPath: "/usr/bin/gcc-12", version: "12", versionText, target: "x86_64-linux-gnu", identity: "x" }, "x86_64-linux-gnu");
    expect(mine?.equivalence).toMatch(/^[0-9a-f]{64}$/);
    expect((armGcc.targets[0] as { equivalence?: string }).equivalence).not.toBe(mine!.equivalence);
    // Why: the same source, compiled by each, differs in the compiler's own identification.
    const dir = join(work, "gcc-comment");
    writeProject(dir);
    await plain("gcc-12", ["-O2", "-c", "table.c", "-o", "native.o"], dir);
    await inRoot(session, [ROOT_CROSS_GCC, "-O2", "-c", "table.c", "-o", "cross.o"], { cwd: dir });
    const comment = (f: string) => text(execFileSync("objdump", ["-s", "-j", ".comment", join(dir, f)]));
    expect(comment("native.o")).not.toBe(comment("cross.o"));

    const client = new RepriseSandbox({ ...farmEnv("linux/aarch64"), REPRISE_DIST_FALLBACK: "fail" }, "node");
    try {
      const [armBefore, x86Before] = [jobsRun(armBuilder!), jobsRun(x86Builder)];
      const r = await client.run(["gcc-12", "-O2", "-c", "table.c", "-o", "table.o"], dir);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(readFileSync(join(dir, "table.o")).equals(readFileSync(join(dir, "native.o")))).toBe(true);
      expect(remote(await client.stats()).compiles).toBe(1);
      expect(jobsRun(armBuilder!)).toBe(armBefore);
      expect(jobsRun(x86Builder)).toBe(x86Before + 1);
    } finally {
      await client.dispose();
    }
  });

  it("a job no builder can take (aarch64 gcc, the aarch64 builder gone) compiles locally, the reason in stats", async () => {
    await armBuilder!.kill();
    armBuilder = undefined;
    await waitForPools(["linux/x86_64"]);
    const dir = join(work, "arm64-gcc");
    writeProject(dir);
    const ref = await inRoot(session, ["gcc", "-O2", "-c", "table.c", "-o", "table.o"], { cwd: dir });
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const reference = readFileSync(join(dir, "table.o"));
    rmSync(join(dir, "table.o"));
    const reprise = await aarch64Client(dir, farmEnv("linux/x86_64"));
    try {
      const r = await reprise(["gcc", "-O2", "-c", "table.c", "-o", "table.o"]);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(readFileSync(join(dir, "table.o")).equals(reference)).toBe(true);
      const s = JSON.parse(text((await reprise(["--show-stats", "--json"])).stdout)).stats as StatsJson;
      expect(remote(s).compiles).toBe(0);
      expect(s.fallbacks).toEqual({ "dist-no-builder": 1 });
    } finally {
      await reprise(["--stop-server"]);
    }
  });
});

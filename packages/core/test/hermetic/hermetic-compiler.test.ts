import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import type { CompileInvocation, CompileRequest, CompilerInfo } from "../../src/engine/types.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { HermeticCompiler, type ToolchainProvider } from "../../src/hermetic/hermetic-compiler.js";
import { InputStore } from "../../src/hermetic/input-store.js";
import type { CompileJob, JobResult } from "../../src/sandbox/types.js";
import { Stats } from "../../src/stats/stats.js";

/**
 * The hermetic compile's decisions, with a sandbox that answers what each
 * case needs (the real sandboxes are tested in their packages and end to end):
 * outputs written where a local compile writes them, and every way the
 * sandbox can fall short ending in a local compile, never a failed build.
 */

let tmp: string;
let proj: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-hermetic-compiler-"));
  proj = join(tmp, "proj");
  mkdirSync(join(proj, "build"), { recursive: true });
  writeFileSync(join(proj, "ok.c"), "int ok(void) { return 1; }\n");
  writeFileSync(join(proj, "bad.c"), "int bad(void) { return nope; }\n");
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const compiler: CompilerInfo = { family: "gcc", path: "/usr/bin/gcc", realPath: "/usr/bin/gcc", version: "12", versionText: "gcc 12", identity: "i".repeat(64) };

function call(source: string): { request: CompileRequest; inv: CompileInvocation } {
  const object = join(proj, "build", source.replace(/\.c$/, ".o"));
  const closure = join(tmp, `${source}.closure.d`);
  return {
    request: { argv: ["gcc", "-c", source], cwd: proj, env: { PATH: "/usr/bin:/bin", LC_ALL: "C" }, stdoutIsTTY: false, stderrIsTTY: false },
    inv: {
      language: "c",
      sourceFile: join(proj, source),
      outputs: [{ role: "object", path: object }],
      keyArgs: [],
      preprocessorOnlyArgs: [],
      compileArgv: ["/usr/bin/gcc", "-c", source, "-o", object],
      dependencies: {},
      closureScan: { argv: ["/usr/bin/gcc", source, "-M", "-MF", closure], depFile: closure },
      keyEnv: [],
      volatileMarkers: [],
      dependsOnCwd: false,
      colorDiagnostics: false,
      extraInputFiles: [],
    },
  };
}

interface Setup {
  hermetic: HermeticCompiler;
  stats: Stats;
  jobs: CompileJob[];
  prepared: () => number;
}

function setup(answer: (job: CompileJob) => Promise<JobResult>, opts: { usable?: boolean; toolchainFails?: boolean } = {}): Setup {
  const engine = new Engine();
  const jobs: CompileJob[] = [];
  engine.hooks.createSandbox.tap("fake", ({ name }) =>
    name === "fake"
      ? {
          name: "fake",
          probe: async () => (opts.usable === false ? { usable: false as const, reason: "switched off" } : { usable: true as const }),
          run: async (job) => {
            jobs.push(job);
            return answer(job);
          },
        }
      : undefined,
  );
  let prepared = 0;
  const toolchains: ToolchainProvider = {
    prepare: async () => {
      prepared++;
      if (opts.toolchainFails) throw new Error("no plugin packages gcc compilers");
      return { id: "0".repeat(64), root: join(tmp, "toolchain-root") };
    },
  };
  const stats = new Stats();
  const dir = mkdtempSync(join(tmp, "ws-"));
  const hermetic = new HermeticCompiler({
    engine,
    hashes: new FileHashCache(),
    stats,
    workspace: async () => ({ toolchains, inputs: new InputStore(join(dir, "inputs")), scratchRoot: join(dir, "jobs") }),
  });
  return { hermetic, stats, jobs, prepared: () => prepared };
}

const result = (r: Partial<JobResult>): JobResult => ({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [], ...r });

describe("HermeticCompiler", () => {
  it("writes the job's outputs where a local compile writes them and counts the compile as hermetic", async () => {
    const s = setup(async () => result({ stderr: Buffer.from("a warning\n"), outputs: [{ role: "object", data: Buffer.from("OBJECT") }] }));
    const { request, inv } = call("ok.c");
    const outcome = await s.hermetic.compile("fake", {}, request, compiler, inv);
    expect(outcome).toMatchObject({ ok: true, run: { exitCode: 0, stderr: Buffer.from("a warning\n") } });
    expect(readFileSync(join(proj, "build/ok.o"), "utf8")).toBe("OBJECT");
    expect(s.stats.snapshot().hermetic).toEqual({ fake: 1 });
    expect(s.jobs[0]!.inputs.map((i) => i.path)).toContain(join(proj, "ok.c"));
    expect(s.jobs[0]!.argv).toEqual(inv.compileArgv);
  });

  it("keeps a failure the local compile confirms; takes the local result when it does not", async () => {
    const { request, inv } = call("bad.c");
    const local = await import("../../src/engine/run-compiler.js").then((m) => m.runCompiler(inv.compileArgv, proj, request.env));
    const same = setup(async () => result({ exitCode: local.exitCode, stderr: local.stderr }));
    const confirmed = await same.hermetic.compile("fake", {}, request, compiler, inv);
    expect(confirmed).toMatchObject({ ok: true, run: { exitCode: 1, stderr: local.stderr } });
    expect(same.stats.snapshot()).toMatchObject({ hermetic: { fake: 1 }, fallbacks: {} });

    // A sandbox that fails a compile that succeeds here (say it lacked a file): the build gets the local result.
    const ok = call("ok.c");
    rmSync(join(proj, "build/ok.o"), { force: true });
    const wrong = setup(async () => result({ exitCode: 1, stderr: Buffer.from("fatal error: missing.h: No such file or directory\n") }));
    const outcome = await wrong.hermetic.compile("fake", {}, ok.request, compiler, ok.inv);
    expect(outcome).toMatchObject({ ok: true, run: { exitCode: 0, stderr: Buffer.alloc(0) } });
    expect(existsSync(join(proj, "build/ok.o"))).toBe(true);
    expect(wrong.stats.snapshot()).toMatchObject({ hermetic: {}, fallbacks: { "hermetic-result-differs": 1 } });
  });

  it("compiles locally when the sandbox falls short: unusable, throws, ends the job, leaves out an output", async () => {
    const { request, inv } = call("ok.c");
    const reasons: string[] = [];
    for (const s of [
      setup(async () => result({}), { usable: false }),
      setup(async () => {
        throw new Error("bwrap: execvp /usr/bin/gcc: No such file or directory");
      }),
      setup(async () => result({ exitCode: 137, killed: "timeout" })),
      setup(async () => result({ exitCode: 0, outputs: [] })),
    ]) {
      const outcome = await s.hermetic.compile("fake", {}, request, compiler, inv);
      reasons.push(outcome.ok ? "ok" : `${outcome.reason}: ${outcome.detail}`);
      expect(s.stats.snapshot().hermetic).toEqual({});
    }
    expect(reasons).toEqual([
      'hermetic-sandbox-unusable: no usable sandbox for "fake": fake: switched off',
      "hermetic-sandbox-failed: fake: bwrap: execvp /usr/bin/gcc: No such file or directory",
      "hermetic-timeout: fake ended the job (timeout)",
      `hermetic-output-missing: fake: the job wrote no ${join(proj, "build/ok.o")}`,
    ]);
    const other = await setup(async () => result({})).hermetic.compile("no-such", {}, request, compiler, inv);
    expect(other).toMatchObject({ ok: false, reason: "hermetic-sandbox-unusable", detail: expect.stringContaining('no sandbox plugin provides "no-such"') });
  });

  it("does not try to package a toolchain again right after it failed", async () => {
    const s = setup(async () => result({}), { toolchainFails: true });
    const { request, inv } = call("ok.c");
    for (let i = 0; i < 3; i++) {
      const outcome = await s.hermetic.compile("fake", {}, request, compiler, inv);
      expect(outcome).toMatchObject({ ok: false, reason: "hermetic-toolchain", detail: "/usr/bin/gcc: no plugin packages gcc compilers" });
    }
    expect(s.prepared()).toBe(1);
    expect(s.jobs).toEqual([]);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompileInvocation, CompileRequest } from "../../src/engine/types.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { buildJob, jobRefusal } from "../../src/hermetic/build-job.js";
import { InputStore } from "../../src/hermetic/input-store.js";

/**
 * The closure scan's generic options (its own environment, directories the
 * toolchain provides), the variables its dep file says the compile read
 * (`# env-dep:`), and `localOnly`. The scan is a real shell script writing
 * what rustc's `--emit=dep-info` writes.
 */

let tmp: string;
let proj: string;
let toolchainDir: string;
let store: InputStore;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-build-job-scan-"));
  proj = join(tmp, "proj");
  toolchainDir = join(tmp, "sysroot");
  for (const d of ["src", "out", "sysroot/lib"]) mkdirSync(join(tmp, d === "src" || d === "out" ? `proj/${d}` : d), { recursive: true });
  writeFileSync(join(proj, "src/lib.rs"), "pub fn f() {}\n");
  writeFileSync(join(proj, "src/data.txt"), "data\n");
  writeFileSync(join(toolchainDir, "lib/libstd.rmeta"), "std\n");
  store = new InputStore(join(tmp, "inputs"));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function call(env: Record<string, string>, scanEnv?: Record<string, string>): { request: CompileRequest; inv: CompileInvocation } {
  const depFile = join(tmp, `scan-${Math.random().toString(36).slice(2)}.d`);
  // Writes the list only when the scan's environment has SCAN_MARK (so the test sees which environment it ran with).
  const script = [
    `[ "$SCAN_MARK" = yes ] || exit 3`,
    `printf '%s: src/lib.rs src/data.txt ${toolchainDir}/lib/libstd.rmeta\\n\\nsrc/lib.rs:\\n\\n# env-dep:FLAVOUR=sweet\\n# env-dep:UNSET_ONE\\n# env-dep:TMPDIR=/x\\n' out.d > ${depFile}`,
  ].join("\n");
  return {
    request: { argv: ["rustc"], cwd: proj, env: { PATH: "/usr/bin:/bin", ...env }, stdoutIsTTY: false, stderrIsTTY: false },
    inv: {
      language: "rust",
      sourceFile: join(proj, "src/lib.rs"),
      outputs: [{ role: "rlib", path: join(proj, "out/liba.rlib") }],
      keyArgs: [],
      preprocessorOnlyArgs: [],
      compileArgv: ["/usr/bin/true"],
      dependencies: { depFile: join(proj, "out/a.d") },
      closureScan: { argv: ["/bin/sh", "-c", script], depFile, toolchainDirs: [toolchainDir], ...(scanEnv ? { setEnv: scanEnv } : {}) },
      keyEnv: [],
      volatileMarkers: [],
      dependsOnCwd: true,
      colorDiagnostics: false,
      extraInputFiles: [],
    },
  };
}

describe("buildJob with a plugin's closure scan options", () => {
  it("runs the scan with its variables set, leaves the toolchain's files out, and carries the variables the compile read", async () => {
    const { request, inv } = call({ FLAVOUR: "sweet", TMPDIR: "/x", SECRET: "s" }, { SCAN_MARK: "yes" });
    const plan = await buildJob(request, inv, "f".repeat(64), store, new FileHashCache());
    if (!plan.ok) throw new Error(`${plan.reason}: ${plan.detail}`);
    // The time zone's file (host context) aside, exactly the listed files outside the toolchain.
    const carried = plan.job.inputs.map((i) => i.path).filter((p) => !p.startsWith("/usr/share/zoneinfo/") && p !== "/etc/localtime");
    expect(carried.sort()).toEqual([join(proj, "src/data.txt"), join(proj, "src/lib.rs")]);
    expect(plan.job.env.FLAVOUR).toBe("sweet");
    expect(plan.job.env.UNSET_ONE).toBeUndefined();
    expect(plan.job.env.TMPDIR).toBeUndefined();
    expect(plan.job.env.SECRET).toBeUndefined();
  });

  it("without them the scan runs with the caller's environment (here lacking SCAN_MARK: the scan fails, the call stays local)", async () => {
    const { request, inv } = call({});
    const plan = await buildJob(request, inv, "f".repeat(64), store, new FileHashCache());
    expect(plan).toMatchObject({ ok: false, reason: "hermetic-scan-failed" });
  });

  it("a call the plugin keeps local is refused before anything is packaged or scanned, for the plugin's reason", async () => {
    const { request, inv } = call({}, { SCAN_MARK: "yes" });
    inv.localOnly = { reason: "links", detail: "crate type bin is linked" };
    expect(jobRefusal(inv)).toEqual({ ok: false, reason: "hermetic-links", detail: "crate type bin is linked" });
    expect(await buildJob(request, inv, "f".repeat(64), store, new FileHashCache())).toMatchObject({ ok: false, reason: "hermetic-links" });
  });

  it("a call that needs more of its runner is refused unless the runner is vouched for (a farm builder a descriptor selected)", async () => {
    const { request, inv } = call({}, { SCAN_MARK: "yes" });
    inv.needsRunner = { reason: "links", detail: "crate type bin is linked" };
    expect(jobRefusal(inv)).toEqual({ ok: false, reason: "hermetic-links", detail: "crate type bin is linked" });
    expect(jobRefusal(inv, { vouched: true })).toBeUndefined();
    expect(await buildJob(request, inv, "f".repeat(64), store, new FileHashCache())).toMatchObject({ ok: false, reason: "hermetic-links" });
    const plan = await buildJob(request, inv, "f".repeat(64), store, new FileHashCache(), undefined, { vouched: true });
    expect(plan.ok).toBe(true);
  });

  it("companions: the file beside a listed one (an rlib beside its rmeta) travels when it exists", async () => {
    writeFileSync(join(proj, "src/data.rlib"), "code\n");
    const { request, inv } = call({}, { SCAN_MARK: "yes" });
    inv.closureScan!.companions = [{ suffix: ".txt", replacement: ".rlib" }, { suffix: ".rs", replacement: ".absent" }];
    const plan = await buildJob(request, inv, "f".repeat(64), store, new FileHashCache());
    if (!plan.ok) throw new Error(`${plan.reason}: ${plan.detail}`);
    const carried = plan.job.inputs.map((i) => i.path).filter((p) => p.startsWith(proj));
    expect(carried.sort()).toEqual([join(proj, "src/data.rlib"), join(proj, "src/data.txt"), join(proj, "src/lib.rs")]);
  });
});

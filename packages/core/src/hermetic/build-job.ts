import { readFile } from "node:fs/promises";
import type { CompileInvocation, CompileRequest } from "../engine/types.js";
import { parseDepFile } from "../engine/dep-file.js";
import { runCompiler } from "../engine/run-compiler.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { CompileJob, JobLimits } from "../sandbox/types.js";
import { resolveHasIncludes } from "./has-include.js";
import type { InputStore } from "./input-store.js";

export type JobPlan = { ok: true; job: CompileJob } | { ok: false; reason: string; detail: string };

export const DEFAULT_LIMITS: JobLimits = {
  timeoutMs: 10 * 60_000,
  maxOutputBytes: 1024 ** 3,
  memoryBytes: 4 * 1024 ** 3,
  maxProcesses: 256,
};

/**
 * Turns a cacheable call into a job that carries its source and every file it
 * reads, by content hash: runs the plugin's closure scan, adds the files that
 * `__has_include` probes would find, and stores each input in the input store.
 */
export async function buildJob(
  request: CompileRequest,
  inv: CompileInvocation,
  toolchainId: string,
  inputs: InputStore,
  hashes: FileHashCache,
  limits: JobLimits = DEFAULT_LIMITS,
): Promise<JobPlan> {
  if (!inv.closureScan) return { ok: false, reason: "hermetic-no-closure", detail: "the compiler plugin gives no closure scan for this call" };
  const scan = await runCompiler(inv.closureScan.argv, request.cwd, request.env);
  if (scan.exitCode !== 0) return { ok: false, reason: "hermetic-scan-failed", detail: scan.stderr.toString("utf8").slice(0, 500) };
  const text = await readFile(inv.closureScan.depFile, "utf8");
  const closure = parseDepFile(text, request.cwd);
  if (!closure.includes(inv.sourceFile)) closure.unshift(inv.sourceFile);
  const probes = resolveHasIncludes(closure, inv.includeDirs ?? []);
  if (probes.unresolvable.length) return { ok: false, reason: "hermetic-has-include", detail: probes.unresolvable[0]! };
  const files = [...closure, ...probes.extraFiles, ...inv.extraInputFiles];
  const jobInputs: CompileJob["inputs"] = [];
  for (const path of files) {
    const digest = await hashes.digest(path);
    if (!digest) return { ok: false, reason: "hermetic-input-unreadable", detail: path };
    inputs.putFile(path, digest.hash);
    jobInputs.push({ path, hash: digest.hash, size: digest.size });
  }
  const outputs: CompileJob["outputs"] = inv.outputs.map((o) => ({ role: o.role, path: o.path, ...(o.optional ? { optional: true } : {}) }));
  if (inv.dependencies.depFileIsTemporary && inv.dependencies.depFile) {
    outputs.push({ role: "reprise:depfile", path: inv.dependencies.depFile });
  }
  return { ok: true, job: { toolchainId, argv: inv.compileArgv, cwd: request.cwd, env: request.env, inputs: jobInputs, outputs, limits } };
}

import { mkdirSync, rmSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Engine } from "../engine/engine.js";
import type { MissCompileResult } from "../engine/hooks.js";
import type { CompileInvocation, CompileRequest, CompilerInfo } from "../engine/types.js";
import { runCompiler, type CompilerRun } from "../engine/run-compiler.js";
import { identitiesFromList } from "../engine/listed-dependencies.js";
import { writeOutputAtomically } from "../engine/write-output.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import { SandboxSelector, SandboxUnavailableError } from "../sandbox/select-sandbox.js";
import type { JobLimits, JobResult, Sandbox } from "../sandbox/types.js";
import type { Stats } from "../stats/stats.js";
import { silentLogger, type Logger } from "../util/logger.js";
import { listDir } from "../util/list-dir.js";
import { buildJob, DEFAULT_LIMITS, jobRefusal, type BuildJobOptions } from "./build-job.js";
import { addRunnerFiles } from "./runner-files.js";
import type { InputStore } from "./input-store.js";

/** Gives the unpacked root of a compiler's packaged toolchain, packaging and unpacking it on first use. */
export interface ToolchainProvider {
  /** `compilerPath`: where the toolchain holds the compiler, when not at the path it is called by (toolchains are identified by content). */
  prepare(compiler: CompilerInfo): Promise<{ id: string; root: string; compilerPath?: string }>;
  /** Like `prepare`, keeping the toolchain from eviction until `release()` (used when present). */
  acquire?(compiler: CompilerInfo): Promise<{ id: string; root: string; compilerPath?: string; release(): void }>;
}

/** Where the hermetic compiles of one cache directory keep their state. */
export interface HermeticWorkspace {
  toolchains: ToolchainProvider;
  inputs: InputStore;
  /** Job directories are made here: on the input store's file system, so inputs are hard-linked, not copied. */
  scratchRoot: string;
}

export interface HermeticCompilerOptions {
  engine: Engine;
  hashes: FileHashCache;
  /** The workspace of the cache directory a call uses. */
  workspace(request: CompileRequest): Promise<HermeticWorkspace>;
  /** Chooses the sandbox (default: one asking `createSandbox` of `engine`, loading no plugin). */
  sandboxes?: SandboxSelector;
  stats?: Stats;
  logger?: Logger;
  limits?: JobLimits;
  /** How long a compiler whose toolchain could not be packaged is compiled locally before trying again (default 10 min). */
  toolchainRetryMs?: number;
  /** Input store size kept after jobs (default 1 GiB; blobs used in the last 30 minutes are kept whatever the size). */
  inputStoreBytes?: number;
}

/**
 * The result of a hermetic compile: the run to report (`ok: true`), or why the
 * call must be compiled locally instead (`reason`, counted in stats).
 */
export type HermeticOutcome = { ok: true; run: CompilerRun & Pick<MissCompileResult, "inputs" | "outputs"> } | { ok: false; reason: string; detail: string };

const PRUNE_EVERY_MS = 10 * 60_000;
const INPUT_GRACE_MS = 30 * 60_000;
const STALE_JOB_DIR_MS = 60 * 60_000;

/**
 * Compiles a cache miss the way a builder of the farm will: from the packaged
 * toolchain, inside a sandbox, with only the source and its include closure.
 * Outputs are written where a local compile would have written them.
 *
 * A build never fails because of this: anything that keeps the job from
 * running as a local compile would (no usable sandbox, a toolchain that
 * cannot be packaged, a closure that cannot be trusted, the sandbox ending
 * the job) is an `ok: false` outcome, and the caller compiles locally. A job
 * that fails in the sandbox is compiled again locally: its result is used
 * when both agree (the usual case: an error in the source), and the local
 * one, counted as `hermetic-result-differs`, when they do not.
 */
export class HermeticCompiler {
  private readonly sandboxes: SandboxSelector;
  private readonly logger: Logger;
  private readonly limits: JobLimits;
  private readonly failedToolchains = new Map<string, { detail: string; at: number }>();
  private readonly lastPrune = new Map<string, number>();
  private readonly cleanedScratch = new Set<string>();

  constructor(private readonly o: HermeticCompilerOptions) {
    this.sandboxes = o.sandboxes ?? new SandboxSelector(o.engine);
    this.logger = o.logger ?? silentLogger;
    this.limits = o.limits ?? DEFAULT_LIMITS;
  }

  /**
   * `limits` (config `jobLimits`) apply over the compiler's own limits, key by key.
   * `closure`: the call's own preprocessing dependency file, when its lookup ran it, and its dependency
   * scan shared with the engine (MissContext): a job takes its closure from them instead of a scan of its own.
   */
  async compile(
    name: string,
    options: Record<string, unknown>,
    request: CompileRequest,
    compiler: CompilerInfo,
    inv: CompileInvocation,
    limits: Partial<JobLimits> = {},
    closure: Pick<BuildJobOptions, "preprocessDeps" | "dependencyScan" | "tokens"> = {},
  ): Promise<HermeticOutcome> {
    // A call that needs more of its runner goes only with the files of this machine its plugin names (runnerFiles).
    const refused = jobRefusal(inv, { vouched: true });
    if (refused) return refused;
    const runner = inv.needsRunner ? await this.o.engine.hooks.runnerFiles.promise({ compiler, invocation: inv }).catch(() => undefined) : undefined;
    if (inv.needsRunner && !runner) return { ok: false, reason: `hermetic-${inv.needsRunner.reason}`, detail: inv.needsRunner.detail };
    let sandbox: Sandbox;
    try {
      sandbox = await this.sandboxes.select(name, options);
    } catch (err) {
      if (err instanceof SandboxUnavailableError) return { ok: false, reason: "hermetic-sandbox-unusable", detail: err.message };
      throw err;
    }
    const ws = await this.o.workspace(request);
    this.cleanScratchOnce(ws.scratchRoot);

    const toolchainKey = `${compiler.identity}\0${compiler.path}`;
    const failed = this.failedToolchains.get(toolchainKey);
    if (failed && Date.now() - failed.at < (this.o.toolchainRetryMs ?? 10 * 60_000)) return { ok: false, reason: "hermetic-toolchain", detail: failed.detail };
    let toolchain: { id: string; root: string; compilerPath?: string; release?: () => void };
    try {
      toolchain = ws.toolchains.acquire ? await ws.toolchains.acquire(compiler) : await ws.toolchains.prepare(compiler);
      this.failedToolchains.delete(toolchainKey);
    } catch (err) {
      const detail = `${compiler.path}: ${(err as Error).message}`;
      this.failedToolchains.set(toolchainKey, { detail, at: Date.now() });
      this.logger.warn("cannot package the toolchain of %s: %s", compiler.path, (err as Error).message);
      return { ok: false, reason: "hermetic-toolchain", detail };
    }

    let scratchDir: string | undefined;
    try {
      const readIdentities = identitiesFromList(this.o.engine, compiler.family);
      const plan = await buildJob(request, inv, toolchain.id, ws.inputs, this.o.hashes, { ...this.limits, ...limits }, { vouched: true, ...closure, ...(readIdentities ? { readIdentities } : {}) });
      if (!plan.ok) return plan;
      const job = plan.job;
      this.logger.debug("%s: job of %d inputs, closure from %s", inv.sourceFile, job.inputs.length, plan.closureFrom === "scan" ? "a scan" : "the lookup's preprocessing");
      const unreadable = runner && (await addRunnerFiles(job, runner, toolchain.root, ws.inputs, this.o.hashes));
      if (unreadable) return { ok: false, reason: "hermetic-input-unreadable", detail: unreadable };
      // The toolchain holds the compiler under its own name; the job calls it as the build did (cc, not gcc-12).
      if (toolchain.compilerPath && job.argv[0] !== toolchain.compilerPath) job.links = [{ path: job.argv[0]!, target: toolchain.compilerPath }];
      mkdirSync(ws.scratchRoot, { recursive: true, mode: 0o700 });
      scratchDir = await mkdtemp(join(ws.scratchRoot, "job-"));
      let result: JobResult;
      // The compile's own time, as a local run would report it; packaging and building the job count as Reprise's overhead.
      const started = performance.now();
      try {
        result = await sandbox.run(job, {
          toolchainRoot: toolchain.root,
          inputBlob: (hash) => ws.inputs.blobPath(hash),
          scratchDir,
          signal: AbortSignal.timeout(job.limits.timeoutMs + 5000),
        });
      } catch (err) {
        return { ok: false, reason: "hermetic-sandbox-failed", detail: `${sandbox.name}: ${(err as Error).message}` };
      }
      if (result.killed) return { ok: false, reason: `hermetic-${result.killed}`, detail: `${sandbox.name} ended the job (${result.killed})` };
      const durationMs = performance.now() - started;

      if (result.exitCode !== 0) return await this.confirmFailure(sandbox, request, inv, result, durationMs);

      const missing = job.outputs.find((o) => !o.optional && !result.outputs.some((r) => r.role === o.role));
      if (missing) return { ok: false, reason: "hermetic-output-missing", detail: `${sandbox.name}: the job wrote no ${missing.path}` };
      for (const out of job.outputs) {
        const data = result.outputs.find((r) => r.role === out.role)?.data;
        const executable = inv.outputs.find((o) => o.role === out.role)?.executable === true;
        if (data) writeOutputAtomically(out.path, data, executable);
      }
      this.o.stats?.hermeticCompile(sandbox.name);
      return { ok: true, run: { exitCode: 0, stdout: result.stdout, stderr: result.stderr, durationMs, inputs: plan.read, outputs: result.outputs } };
    } finally {
      toolchain.release?.();
      if (scratchDir) await rm(scratchDir, { recursive: true, force: true }).catch(() => {});
      this.maybePrune(ws);
    }
  }

  /**
   * A job that failed in the sandbox is compiled again here: the sandbox's
   * result stands when the local compile fails the same way; otherwise the
   * local result is the one the build gets.
   */
  private async confirmFailure(sandbox: Sandbox, request: CompileRequest, inv: CompileInvocation, result: JobResult, sandboxMs: number): Promise<HermeticOutcome> {
    const local = await runCompiler(inv.compileArgv, request.cwd, request.env);
    if (local.exitCode === result.exitCode && local.stdout.equals(result.stdout) && local.stderr.equals(result.stderr)) {
      this.o.stats?.hermeticCompile(sandbox.name);
      return { ok: true, run: { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, durationMs: sandboxMs } };
    }
    this.logger.warn(
      "the compile of %s failed in %s (exit status %d) but not the same way here (exit status %d); using the local result. Sandbox said: %s",
      inv.sourceFile,
      sandbox.name,
      result.exitCode,
      local.exitCode,
      result.stderr.toString("utf8").slice(0, 2000),
    );
    this.o.stats?.fallback("hermetic-result-differs");
    return { ok: true, run: local };
  }

  /** Removes job directories a killed daemon left behind, once per scratch root. */
  private cleanScratchOnce(root: string): void {
    if (this.cleanedScratch.has(root)) return;
    this.cleanedScratch.add(root);
    for (const n of listDir(root)) {
      const p = join(root, n);
      try {
        if (n.startsWith("job-") && Date.now() - statSync(p).mtimeMs > STALE_JOB_DIR_MS) rmSync(p, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
    }
  }

  private maybePrune(ws: HermeticWorkspace): void {
    const last = this.lastPrune.get(ws.inputs.dir) ?? 0;
    if (Date.now() - last < PRUNE_EVERY_MS) return;
    this.lastPrune.set(ws.inputs.dir, Date.now());
    setImmediate(() => {
      try {
        const removed = ws.inputs.prune({ maxBytes: this.o.inputStoreBytes ?? 1024 ** 3, graceMs: INPUT_GRACE_MS });
        if (removed) this.logger.info("input store %s: removed %d bytes of unused inputs", ws.inputs.dir, removed);
      } catch (err) {
        this.logger.warn("input store %s: prune failed: %s", ws.inputs.dir, (err as Error).message);
      }
    });
  }
}

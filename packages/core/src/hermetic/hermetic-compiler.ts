import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine/engine.js";
import type { CompileInvocation, CompileRequest, CompilerInfo } from "../engine/types.js";
import type { CompilerRun } from "../engine/run-compiler.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { Sandbox } from "../sandbox/types.js";
import { writeOutputAtomically } from "../engine/write-output.js";
import { buildJob } from "./build-job.js";
import type { InputStore } from "./input-store.js";

/** Gives the unpacked root of a compiler's packaged toolchain, packaging and unpacking it on first use. */
export interface ToolchainProvider {
  prepare(compiler: CompilerInfo): Promise<{ id: string; root: string }>;
}

export type HermeticOutcome = { ok: true; run: CompilerRun } | { ok: false; reason: string; detail: string };

/**
 * Compiles a cache miss the way a builder of the farm will: from the packaged
 * toolchain, inside a sandbox, with only the source and its include closure.
 * Outputs are written where a local compile would have written them.
 */
export class HermeticCompiler {
  private readonly sandboxes = new Map<string, Promise<Sandbox | string>>();

  constructor(
    private readonly engine: Engine,
    private readonly toolchains: ToolchainProvider,
    private readonly inputs: InputStore,
    private readonly hashes: FileHashCache,
    private readonly scratchRoot: string,
  ) {}

  async compile(name: string, options: Record<string, unknown>, request: CompileRequest, compiler: CompilerInfo, inv: CompileInvocation): Promise<HermeticOutcome> {
    const sandbox = await this.sandbox(name, options);
    if (typeof sandbox === "string") return { ok: false, reason: "hermetic-sandbox-unusable", detail: sandbox };
    const started = performance.now();
    const toolchain = await this.toolchains.prepare(compiler);
    const plan = await buildJob(request, inv, toolchain.id, this.inputs, this.hashes);
    if (!plan.ok) return plan;
    const scratchDir = mkdtempSync(join(this.scratchRoot, "job-"));
    try {
      const result = await sandbox.run(plan.job, {
        toolchainRoot: toolchain.root,
        inputBlob: (hash) => this.inputs.blobPath(hash),
        scratchDir,
        signal: AbortSignal.timeout(plan.job.limits.timeoutMs + 5000),
      });
      if (result.killed) return { ok: false, reason: `hermetic-${result.killed}`, detail: `the sandbox ended the job (${result.killed})` };
      if (result.exitCode === 0) {
        for (const out of plan.job.outputs) {
          const data = result.outputs.find((o) => o.role === out.role)?.data;
          if (data) writeOutputAtomically(out.path, data);
        }
      }
      return { ok: true, run: { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, durationMs: performance.now() - started } };
    } finally {
      rmSync(scratchDir, { recursive: true, force: true });
    }
  }

  /** The configured sandbox, probed once; a string says why it cannot be used. */
  private sandbox(name: string, options: Record<string, unknown>): Promise<Sandbox | string> {
    const key = `${name}\0${JSON.stringify(options)}`;
    let pending = this.sandboxes.get(key);
    if (!pending) {
      pending = (async () => {
        const sandbox = this.engine.hooks.createSandbox.call({ name, options });
        if (!sandbox) return `no sandbox plugin provides "${name}" (install @reprise/plugin-sandbox-${name} and list it in plugins)`;
        const probe = await sandbox.probe();
        return probe.usable ? sandbox : `${name}: ${probe.reason}`;
      })();
      this.sandboxes.set(key, pending);
    }
    return pending;
  }
}

/**
 * Jobs for builders of another architecture (docs/cross-arch.md): the
 * compiler's plugin says (`portableToolchain`) which equivalence value a
 * builder's own toolchain must have to compile this compiler's jobs with
 * identical outputs, which arguments the job then needs (an explicit target)
 * and which files of this machine it must carry (clang's crtbegin.o). Asked
 * once per compiler and target, and kept across daemons (kept-equivalences.ts);
 * never on a hit.
 */
import { readFile } from "node:fs/promises";
import { hashBytes, type CompileJob, type CompilerInfo, type Engine, type InputStore, type Logger, type PortableToolchain } from "@reprise/core";
import { equivalenceKey, type KeptEquivalences } from "./kept-equivalences.js";

export class EquivalentJobs {
  private readonly probes = new Map<string, EquivalenceProbe>();

  constructor(private readonly engine: Engine) {}

  /**
   * The probe of `compiler`'s equivalence, asked at its miss: started now
   * unless `kept` holds an answer from an earlier daemon; undefined when the
   * compiler has no target (its jobs only run where its own toolchain runs).
   */
  portable(compiler: CompilerInfo, logger: Logger, kept?: KeptEquivalences): EquivalenceProbe | undefined {
    const target = compiler.target;
    if (!target) return undefined;
    const key = equivalenceKey(this.engine, compiler, target);
    let probe = this.probes.get(key);
    if (!probe) {
      probe = new EquivalenceProbe(this.engine, compiler, target, logger, key, kept);
      this.probes.set(key, probe);
    }
    return probe;
  }
}

interface Probed {
  answer: PortableToolchain | undefined;
  /** The plugin failed (not an answer to keep). */
  failed: boolean;
}

/**
 * One compiler's answer for one target, for the toolchain archive its jobs
 * run with: an answer kept by an earlier daemon stands for the archive it was
 * probed with, and a probe runs (once) for any other.
 */
export class EquivalenceProbe {
  private kept: { toolchainId: string; answer: PortableToolchain | undefined } | undefined;
  private probing: Promise<Probed> | undefined;
  /** The archive `probing`'s answer is for (the first one asked with it). */
  private probedFor: string | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly compiler: CompilerInfo,
    private readonly target: string,
    private readonly logger: Logger,
    private readonly key: string,
    private readonly store: KeptEquivalences | undefined,
  ) {
    const recalled = store?.get(key);
    if (recalled) {
      this.kept = { toolchainId: recalled.toolchainId, answer: recalled.answer ?? undefined };
      logger.debug("%s: farm: equivalence probe kept from an earlier daemon", compiler.path);
    } else {
      // At the miss, as the job is prepared: a compiler's first allocation waits for this answer.
      this.probing = this.probe();
    }
  }

  /** The answer for jobs running with the toolchain archive `toolchainId`. */
  async answer(toolchainId: string): Promise<PortableToolchain | undefined> {
    if (this.kept) {
      if (this.kept.toolchainId === toolchainId) return this.kept.answer;
      this.logger.debug("%s: farm: the kept equivalence was probed with toolchain %s, not %s: probing again", this.compiler.path, this.kept.toolchainId.slice(0, 12), toolchainId.slice(0, 12));
      this.kept = undefined;
    }
    if (this.probing && this.probedFor !== undefined && this.probedFor !== toolchainId) {
      // The toolchain was packaged again in this daemon (a file of it changed): so may the answer have.
      this.probing = undefined;
      this.probedFor = undefined;
    }
    this.probing ??= this.probe();
    const first = this.probedFor === undefined;
    this.probedFor ??= toolchainId;
    const probed = await this.probing;
    if (first && !probed.failed) this.store?.set(this.key, { toolchainId, answer: probed.answer ?? null });
    return probed.answer;
  }

  private probe(): Promise<Probed> {
    const started = performance.now();
    return this.engine.hooks.portableToolchain
      .promise({ compiler: this.compiler, target: this.target })
      .then(
        (answer) => ({ answer, failed: false }),
        (err: Error) => {
          // Not fatal: the job still goes to builders that can run this compiler's own toolchain.
          this.logger.warn("%s: no equivalent toolchains on other architectures: %s", this.compiler.path, err.message);
          return { answer: undefined, failed: true };
        },
      )
      .finally(() => this.logger.debug("%s: farm: equivalence probe answered in %d ms", this.compiler.path, Math.round(performance.now() - started)));
  }
}

/**
 * `job` as a builder holding an equivalent toolchain `toolchainId` runs it:
 * the plugin's target arguments after argv[0], and its extra files carried
 * as inputs (stored in `inputs` for upload). Undefined when an extra file
 * cannot be read (the job then is not sent there).
 */
export async function equivalentJob(job: CompileJob, toolchainId: string, portable: PortableToolchain, inputs: InputStore): Promise<CompileJob | undefined> {
  const carried = new Set(job.inputs.map((i) => i.path));
  const extra = [];
  for (const path of portable.files) {
    if (carried.has(path)) continue;
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch {
      return undefined;
    }
    const hash = hashBytes(data);
    if (!(await inputs.putFile(path, hash))) return undefined;
    extra.push({ path, hash, size: data.length });
  }
  const [argv0, ...rest] = job.argv;
  return { ...job, toolchainId, argv: [argv0!, ...portable.targetArgs, ...rest], inputs: [...job.inputs, ...extra] };
}

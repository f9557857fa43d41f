/**
 * Jobs for builders of another architecture (docs/cross-arch.md): the
 * compiler's plugin says (`portableToolchain`) which equivalence value a
 * builder's own toolchain must have to compile this compiler's jobs with
 * identical outputs, which arguments the job then needs (an explicit target)
 * and which files of this machine it must carry (clang's crtbegin.o). Asked
 * once per compiler, target and toolchain, the answer kept for later daemons;
 * never on a hit.
 */
import { readFile } from "node:fs/promises";
import { hashBytes, type CompileJob, type CompilerInfo, type Engine, type InputStore, type Logger, type PortableToolchain } from "@reprise/core";
import { KeptEquivalences, type EquivalenceKey } from "./kept-equivalences.js";

export class EquivalentJobs {
  private readonly answers = new Map<string, Promise<PortableToolchain | undefined>>();
  private readonly kept = new Map<string, KeptEquivalences>();

  constructor(private readonly engine: Engine) {}

  /**
   * The plugin's answer for `compiler` (packaged as `toolchainId`), or undefined when its jobs only run where its own
   * toolchain runs: kept in the cache directory `cacheDir` for the next daemons (kept-equivalences.ts).
   */
  portable(compiler: CompilerInfo, toolchainId: string, cacheDir: string, logger: Logger): Promise<PortableToolchain | undefined> {
    const target = compiler.target;
    if (!target) return Promise.resolve(undefined);
    const key = { identity: compiler.identity, compilerPath: compiler.path, target, toolchainId };
    const memo = JSON.stringify([cacheDir, key]);
    let answer = this.answers.get(memo);
    if (!answer) {
      answer = this.answerOf(compiler, key, this.keptIn(cacheDir), logger);
      this.answers.set(memo, answer);
    }
    return answer;
  }

  private keptIn(cacheDir: string): KeptEquivalences {
    let k = this.kept.get(cacheDir);
    if (!k) this.kept.set(cacheDir, (k = new KeptEquivalences(cacheDir)));
    return k;
  }

  private async answerOf(compiler: CompilerInfo, key: EquivalenceKey, kept: KeptEquivalences, logger: Logger): Promise<PortableToolchain | undefined> {
    const known = kept.get(key);
    if (known !== undefined) {
      logger.debug("%s: farm: equivalence probe answered in 0 ms (kept)", compiler.path);
      return known ?? undefined;
    }
    const started = performance.now();
    try {
      const answer = await this.engine.hooks.portableToolchain.promise({ compiler, target: key.target });
      // A failed probe is not kept: it may have been the machine's (a timeout under load), not the compiler's.
      kept.set(key, answer);
      return answer;
    } catch (err) {
      // Not fatal: the job still goes to builders that can run this compiler's own toolchain.
      logger.warn("%s: no equivalent toolchains on other architectures: %s", compiler.path, (err as Error).message);
      return undefined;
    } finally {
      logger.debug("%s: farm: equivalence probe answered in %d ms", compiler.path, Math.round(performance.now() - started));
    }
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

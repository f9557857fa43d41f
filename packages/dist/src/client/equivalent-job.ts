/**
 * Jobs for builders of another architecture (docs/cross-arch.md): the
 * compiler's plugin says (`portableToolchain`) which equivalence value a
 * builder's own toolchain must have to compile this compiler's jobs with
 * identical outputs, which arguments the job then needs (an explicit target)
 * and which files of this machine it must carry (clang's crtbegin.o). Asked
 * once per compiler and target; never on a hit.
 */
import { readFile } from "node:fs/promises";
import { hashBytes, type CompileJob, type CompilerInfo, type Engine, type InputStore, type Logger, type PortableToolchain } from "@reprise/core";

export class EquivalentJobs {
  private readonly answers = new Map<string, Promise<PortableToolchain | undefined>>();

  constructor(private readonly engine: Engine) {}

  /** The plugin's answer for `compiler`, or undefined when its jobs only run where its own toolchain runs. */
  portable(compiler: CompilerInfo, logger: Logger): Promise<PortableToolchain | undefined> {
    const target = compiler.target;
    if (!target) return Promise.resolve(undefined);
    const key = `${compiler.identity}\0${compiler.path}\0${target}`;
    let answer = this.answers.get(key);
    if (!answer) {
      const started = performance.now();
      answer = this.engine.hooks.portableToolchain
        .promise({ compiler, target })
        .catch((err: Error) => {
          // Not fatal: the job still goes to builders that can run this compiler's own toolchain.
          logger.warn("%s: no equivalent toolchains on other architectures: %s", compiler.path, err.message);
          return undefined;
        })
        .finally(() => logger.debug("%s: farm: equivalence probe answered in %d ms", compiler.path, Math.round(performance.now() - started)));
      this.answers.set(key, answer);
    }
    return answer;
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

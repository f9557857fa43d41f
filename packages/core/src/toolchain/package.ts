import type { Engine } from "../engine/engine.js";
import type { CompilerInfo } from "../engine/types.js";
import { programPlatforms } from "./collect-files.js";
import { identifiedByContent } from "./content-identity.js";
import { ToolchainError } from "./errors.js";
import { buildToolchainArchive, writeToolchainArchive, type BuiltArchive, type PackProgress, type WrittenArchive } from "./toolchain-archive.js";
import type { Platform, ToolchainSpec } from "./types.js";

export interface DescribedToolchain {
  spec: ToolchainSpec;
  runsOn: Platform[];
}

/**
 * Asks the plugins what makes `compiler` runnable elsewhere
 * (`packageToolchain`) and which machines can run it
 * (`resolveArchitecture`; if no plugin answers, the ELF headers of the
 * toolchain's programs are read).
 */
export async function describeToolchain(engine: Engine, compiler: CompilerInfo): Promise<DescribedToolchain> {
  const spec = await engine.hooks.packageToolchain.promise(compiler);
  if (!spec) throw new ToolchainError(`cannot package ${compiler.path}`, `no plugin packages ${compiler.family} compilers`);
  const runsOn = (await engine.hooks.resolveArchitecture.promise({ toolchain: spec })) ?? programPlatforms(spec);
  if (!runsOn) throw new ToolchainError(`cannot package ${compiler.path}`, "no plugin tells which machines can run it, and its programs are not ELF");
  if (runsOn.length === 0) throw new ToolchainError(`cannot package ${compiler.path}`, "its programs are built for different machines");
  return { spec, runsOn };
}

/**
 * The deterministic archive of a compiler's toolchain, in memory. With
 * `byContent`, identified by its files, not by the name the compiler was
 * called by (see `identifiedByContent`).
 */
export async function buildCompilerToolchain(engine: Engine, compiler: CompilerInfo, options: { byContent?: boolean } = {}): Promise<BuiltArchive & DescribedToolchain> {
  const described = await describeToolchain(engine, compiler);
  if (options.byContent) described.spec = identifiedByContent(described.spec);
  return { ...(await buildToolchainArchive(described.spec, described.runsOn)), ...described };
}

/** Writes the archive of a compiler's toolchain to `out` (what `reprise --package-toolchain` does). */
export async function packageCompilerToolchain(
  engine: Engine,
  compiler: CompilerInfo,
  out: string,
  progress?: { described?: (d: DescribedToolchain) => void; packing?: PackProgress },
  options: { targets?: string[] } = {},
): Promise<WrittenArchive & DescribedToolchain> {
  const described = await describeToolchain(engine, compiler);
  progress?.described?.(described);
  const equivalences = await equivalencesFor(engine, compiler, options.targets ?? (compiler.target ? [compiler.target] : []));
  return { ...(await writeToolchainArchive(described.spec, described.runsOn, out, progress?.packing, { equivalences })), ...described };
}

/**
 * The compiler's equivalence value for each target its plugin can prove one
 * for (`portableToolchain`), recorded in the archive so that clients of
 * another architecture can check the archive against their own compiler.
 */
async function equivalencesFor(engine: Engine, compiler: CompilerInfo, targets: string[]): Promise<{ target: string; equivalence: string }[]> {
  const out = [];
  for (const target of [...new Set(targets)]) {
    const answer = await engine.hooks.portableToolchain.promise({ compiler, target });
    if (answer) out.push({ target, equivalence: answer.equivalence });
  }
  return out;
}

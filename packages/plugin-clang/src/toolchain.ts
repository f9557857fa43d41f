import { isAbsolute } from "node:path";
import { collectToolchainEntries, joinPath, programPlatforms, walkPath, type CompilerInfo, type Platform, type ToolchainSpec } from "@reprise/core";
import { findProgram, localRunner, toolchainSpecOf, type ToolchainOptions } from "@reprise/plugin-gcc";

/**
 * The GCC installation clang selected and the crtbegin.o files that make it
 * select it (one per candidate multilib), from `clang -v`. Without them clang
 * does not pick the installation, and libstdc++'s headers are not found.
 */
export function gccInstallationFiles(verbose: string): string[] {
  const dir = /^Selected GCC installation: (.+)$/m.exec(verbose)?.[1]?.trim();
  if (!dir || !isAbsolute(dir)) return [];
  const multilibs = [...verbose.matchAll(/^(?:Candidate|Selected) multilib: ([^;\n]*);/gm)].map((m) => m[1]!.trim());
  const dirs = new Set([".", ...multilibs]);
  return [...dirs].map((m) => joinPath(m === "." ? dir : joinPath(dir, m), "crtbegin.o"));
}

/**
 * What makes clang runnable elsewhere: the driver at the path it is called by
 * (argv[0] decides its installed dir, and so the paths it writes into debug
 * info), every symlink on the way, the binary it leads to (clang is its own
 * cc1 and, by default, its own assembler), the external assembler for
 * `-fno-integrated-as` if the driver finds one, the crtbegin.o files of the
 * selected GCC installation, and the loader and shared libraries
 * (libclang-cpp, libLLVM, libstdc++, ...). Not headers: jobs carry them.
 */
export async function clangToolchainSpec(compiler: CompilerInfo, options: ToolchainOptions = {}): Promise<ToolchainSpec> {
  const sysroot = options.sysroot ?? "/";
  const run = options.run ?? localRunner(compiler.path);
  const [asRun, verbose] = await Promise.all([run(["-print-prog-name=as"]), run(["-v"])]);
  const as = asRun.exitCode === 0 ? asRun.stdout.trim() : "";
  const assembler = as ? findProgram(as, { sysroot, ...(options.pathEnv !== undefined ? { pathEnv: options.pathEnv } : {}) }) : undefined;
  const files = gccInstallationFiles(`${verbose.stderr}\n${verbose.stdout}`).filter((f) => walkPath(sysroot, f).kind === "file");
  const entries = collectToolchainEntries({ programs: assembler ? [compiler.path, assembler] : [compiler.path], files }, { sysroot });
  return toolchainSpecOf(compiler, entries, sysroot);
}

/** The machines that can run a clang toolchain: from the ELF headers of its programs, never from this host. */
export function clangToolchainPlatforms(spec: ToolchainSpec): Platform[] | undefined {
  return programPlatforms(spec);
}

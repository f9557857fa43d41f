import { delimiter, isAbsolute } from "node:path";
import { collectToolchainEntries, joinPath, localeFiles, programPlatforms, walkPath, type CompilerInfo, type Platform, type ToolchainSpec } from "@reprise/core";

/** Runs the compiler with these arguments (no stdin), in the C locale. */
export type CompilerRunner = (args: string[]) => Promise<{ stdout: string; stderr: string; exitCode: number }>;

export interface ToolchainOptions {
  /**
   * Root the compiler is installed in (default "/"): paths the compiler prints
   * are looked up there and kept as they are (for a compiler of another
   * machine unpacked into a directory).
   */
  sysroot?: string;
  /** How to run the compiler's driver for its `-print-*` answers (default: run `compiler.path` here). */
  run?: CompilerRunner;
  /** PATH for programs the driver finds on PATH (the assembler). Default: this process's PATH. */
  pathEnv?: string;
}

const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

/** Runs `path` directly, as the engine's probes do. */
export function localRunner(path: string): CompilerRunner {
  return async (args) => {
    // Loaded when first run: ~100 modules the daemon's start need not pay for.
    const { execa } = await import("execa");
    const r = await execa(path, args, { env: { PATH: process.env.PATH ?? DEFAULT_PATH, LC_ALL: "C", LANG: "C" }, extendEnv: false, stdin: "ignore", reject: false, timeout: 15_000 });
    return { stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? ""), exitCode: r.exitCode ?? 1 };
  };
}

/**
 * Finds a program the way the driver execs it: an absolute path as is, a bare
 * name on PATH (inside the sysroot). Undefined when there is none.
 */
export function findProgram(name: string, options: Pick<ToolchainOptions, "sysroot" | "pathEnv"> = {}): string | undefined {
  const root = options.sysroot ?? "/";
  if (isAbsolute(name)) return walkPath(root, name).kind === "file" ? name : undefined;
  if (name.includes("/")) return undefined;
  for (const dir of (options.pathEnv ?? process.env.PATH ?? DEFAULT_PATH).split(delimiter)) {
    if (!dir.startsWith("/")) continue;
    const candidate = joinPath(dir, name);
    const walk = walkPath(root, candidate);
    if (walk.kind === "file" && (walk.stats!.mode & 0o111) !== 0) return candidate;
  }
  return undefined;
}

async function printed(run: CompilerRunner, arg: string): Promise<string> {
  const r = await run([arg]);
  return r.exitCode === 0 ? r.stdout.trim() : "";
}

/**
 * What makes a GCC driver runnable elsewhere: the driver at the path it is
 * called by (every symlink on the way kept), `cc1` and `cc1plus`, the
 * assembler, the LTO plugin and the specs file if there is one — each asked
 * from the driver itself (`-print-prog-name`, `-print-file-name`), never
 * assumed — the loader and shared libraries of all of them, and the C.UTF-8
 * locale data (its diagnostics' quotes depend on the charset). Not the
 * linker or `collect2` (jobs only compile), not headers (jobs carry the files
 * they include).
 */
export async function gccToolchainSpec(compiler: CompilerInfo, options: ToolchainOptions = {}): Promise<ToolchainSpec> {
  const sysroot = options.sysroot ?? "/";
  const run = options.run ?? localRunner(compiler.path);
  const [cc1, cc1plus, as, ltoPlugin, specs] = await Promise.all([
    printed(run, "-print-prog-name=cc1"),
    printed(run, "-print-prog-name=cc1plus"),
    printed(run, "-print-prog-name=as"),
    printed(run, "-print-file-name=liblto_plugin.so"),
    printed(run, "-print-file-name=specs"),
  ]);
  const present = (p: string) => isAbsolute(p) && walkPath(sysroot, p).kind === "file";
  const programs = [compiler.path];
  // A driver without cc1 cannot compile C, nor without the assembler anything: those are required.
  if (!present(cc1)) throw new Error(`${compiler.path}: cc1 not found (the driver says "${cc1}")`);
  programs.push(cc1);
  if (present(cc1plus)) programs.push(cc1plus);
  const assembler = findProgram(as || "as", { sysroot, ...(options.pathEnv !== undefined ? { pathEnv: options.pathEnv } : {}) });
  if (!assembler) throw new Error(`${compiler.path}: the assembler "${as}" is not found`);
  programs.push(assembler);
  const entries = collectToolchainEntries(
    {
      programs,
      libraries: present(ltoPlugin) ? [ltoPlugin] : [],
      // The C.UTF-8 locale: without it gcc's diagnostics quote with '' where the client's show ‘’.
      files: [...(present(specs) ? [specs] : []), ...localeFiles(["C.utf8"], { sysroot })],
    },
    { sysroot },
  );
  return toolchainSpecOf(compiler, entries, sysroot);
}

/** A detected compiler's toolchain spec from the entries that make it runnable (shared with clang). */
export function toolchainSpecOf(compiler: CompilerInfo, entries: ToolchainSpec["entries"], sysroot: string): ToolchainSpec {
  return {
    entries,
    compilerPath: compiler.path,
    family: compiler.family,
    version: compiler.version,
    identity: compiler.identity,
    ...(compiler.target ? { target: compiler.target } : {}),
    ...(sysroot !== "/" ? { sysroot } : {}),
  };
}

/** The machines that can run a toolchain: from the ELF headers of its programs, never from this host. */
export function toolchainPlatforms(spec: ToolchainSpec): Platform[] | undefined {
  return programPlatforms(spec);
}

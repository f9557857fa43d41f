/**
 * Toolchains and platforms: what a builder needs to run a client's compiler.
 * Plain data: a toolchain's manifest travels inside its archive.
 */

/** Where a program can run (or what it produces code for). Names follow Node's `process.arch` / ELF machines. */
export interface Platform {
  /** "x86_64", "aarch64", "arm", "riscv64", "i386", ... */
  arch: string;
  /** "linux", ... (from the ELF OS ABI; SYSV and GNU both mean linux here). */
  os: string;
  /** ELF class: 32 or 64 bits. */
  bits?: 32 | 64;
}

/** One entry of a toolchain: a file from the client's machine, at the same absolute path inside the sandbox. */
export interface ToolchainEntry {
  /** Absolute path on the client; the same path inside the sandbox. */
  path: string;
  type: "file" | "symlink" | "directory";
  /** For symlinks: the link text, as on the client. */
  linkTarget?: string;
  /** What a file is to the toolchain: a program it executes, a library the loader maps, or other data. */
  role?: "program" | "library" | "data";
}

/** What a compiler plugin says makes its compiler runnable elsewhere. */
export interface ToolchainSpec {
  /** Every path the compiler executes or loads (driver, cc1, as, plugins, shared libraries, the loader). */
  entries: ToolchainEntry[];
  /** The compiler as the job invokes it (argv[0] of the job). */
  compilerPath: string;
  family: string;
  version: string;
  /** The identity of the compiler (CompilerInfo.identity). */
  identity: string;
  /** What it produces code for (target triple), if known. */
  target?: string;
  /** Where the entries' paths are read from on this machine (default "/"): a root holding a compiler of another machine. */
  sysroot?: string;
}

/**
 * A toolchain named by what it is instead of shipped as an archive: a builder
 * provides it itself (rustup, a toolchain its config declares) and proves it
 * holds the same one before it runs a job. Ids are opaque to core, the farm
 * client and the scheduler: equal ids mean the same toolchain.
 */
export interface ToolchainDescriptor {
  /** `<kind>:…`, 1–256 characters of `A-Za-z0-9._:-` (the farm protocol's toolchain ids); archive ids never hold a ':'. */
  id: string;
  family: string;
  /** One line for logs and status, e.g. "rustc 1.95.0 (59807616e) for x86_64-unknown-linux-gnu". */
  summary: string;
  /** What a builder must report (its `capabilities`, matched exactly) to finish the job, e.g. "link:x86_64-unknown-linux-gnu:<linker identity>". */
  requires?: string[];
}

/** Stored inside the archive as `.reprise-toolchain.json`; the archive's id is the hash of the archive bytes. */
export interface ToolchainManifest {
  formatVersion: 1;
  family: string;
  version: string;
  compilerPath: string;
  identity: string;
  target?: string;
  /** Platforms the toolchain's programs run on (from `resolveArchitecture`). */
  runsOn: Platform[];
  /**
   * Equivalence values of the compiler for targets (`portableToolchain`),
   * written by `reprise --package-toolchain` where the compiler runs: a client
   * whose own compiler has the same value for its target may use this archive
   * on builders of another architecture (docs/cross-arch.md).
   */
  equivalences?: { target: string; equivalence: string }[];
  files: { path: string; type: ToolchainEntry["type"]; size: number; mode: number; linkTarget?: string; role?: ToolchainEntry["role"] }[];
}

/**
 * A compile job: what the farm ships to a builder, and what hermetic mode runs
 * locally. Plain, serialisable data (see docs/jobs.md).
 */
export interface CompileJob {
  /** Content id of the toolchain archive the job runs with. */
  toolchainId: string;
  /** argv, argv[0] the compiler path inside the toolchain (same as on the client). */
  argv: string[];
  /** Working directory: the client's own path, recreated empty and writable in the sandbox. */
  cwd: string;
  /** Environment the compiler sees (nothing else of the host's). */
  env: Record<string, string>;
  /** Source and every file it includes, at their own absolute paths, named by content hash. */
  inputs: JobInput[];
  /** Files the compile writes, collected after it ends. Absolute paths. */
  outputs: { role: string; path: string; optional?: boolean }[];
  limits: JobLimits;
  /**
   * Directories that must exist (read-only, holding only the inputs below
   * them) even when no input lies in them: include directories the command
   * names, which compilers may check for. Optional; absolute paths.
   */
  directories?: string[];
  /**
   * Symlinks the command needs that its toolchain does not hold, made in the
   * sandbox before it runs: argv[0] as the build called the compiler
   * (`/usr/bin/cc`), leading to where the toolchain holds it
   * (`/usr/bin/x86_64-linux-gnu-gcc-12`): toolchains are identified by
   * content, so every name of one compiler shares one. Absolute paths.
   */
  links?: { path: string; target: string }[];
}

export interface JobInput {
  path: string;
  /** Content hash (the engine's hash function) naming the blob in the input store. */
  hash: string;
  size: number;
  executable?: boolean;
}

export interface JobLimits {
  /** Wall-clock limit; the process tree is killed past it. */
  timeoutMs: number;
  /** Most bytes of stdout + stderr + outputs together. */
  maxOutputBytes: number;
  /** Memory limit of the job as a whole (bwrap: its cgroup; containers: the engine's). */
  memoryBytes?: number;
  /** Most processes of the job as a whole (bwrap: its cgroup; containers: the engine's). */
  maxProcesses?: number;
}

export interface JobResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  outputs: { role: string; data: Buffer }[];
  /**
   * Why the sandbox ended the job early, or why its result cannot be trusted:
   * `process-limit` (a fork was refused at `maxProcesses`), `memory-limit`
   * (a process was killed at `memoryBytes`).
   */
  killed?: "timeout" | "output-limit" | "cancelled" | "process-limit" | "memory-limit";
}

/** Where a sandbox finds what a job needs, prepared by the engine. */
export interface JobMaterials {
  /** Directory holding the unpacked toolchain (its root is the sandbox's root). */
  toolchainRoot: string;
  /** Path of the stored blob with this content hash. */
  inputBlob(hash: string): string;
  /** A scratch directory for this job, removed after it. */
  scratchDir: string;
  signal: AbortSignal;
  /**
   * Where input trees outlive the job (a builder's `InputTreeCache`): a later
   * job whose tree holds exactly the same entries mounts the prepared one.
   * Absent: each job's trees are made in its scratch directory.
   */
  inputTrees?: {
    acquire(key: string, build: (dir: string) => void): { path: string; release(): void };
  };
  /**
   * Where the toolchain's part of a job's file system is kept as one tree
   * per top-level directory (hard links to the toolchain's files), mounted
   * once instead of a mount per toolchain file (`planJobLayout` with an
   * empty base). On the same file system as the toolchain. Absent: the
   * toolchain's files are mounted one by one.
   */
  toolchainTrees?: {
    acquire(key: string, build: (dir: string) => void): { path: string; release(): void };
  };
}

/** A sandbox implementation made by a plugin. */
export interface Sandbox {
  readonly name: string;
  /** Whether it can run on this host now; `reason` says why not. */
  probe(): Promise<{ usable: true } | { usable: false; reason: string }>;
  run(job: CompileJob, materials: JobMaterials): Promise<JobResult>;
}

export interface SandboxSettings {
  /** Name chosen in config (`hermetic`), e.g. "bwrap" or "docker". */
  name: string;
  options?: Record<string, unknown>;
}

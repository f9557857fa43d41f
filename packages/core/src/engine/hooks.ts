import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncParallelHook, HookMap, SyncBailHook } from "tapable";
import type { CompileRequest, CompilerInfo, CompileInvocation, OutputSpec, ParseInput, ParseResult } from "./types.js";
import type { KeyHasher } from "../hashing/key-hasher.js";
import type { FileDigest, FileHashCache } from "../hashing/file-hash-cache.js";
import type { CacheStorage, StorageSettings } from "../storage/cache-storage.js";
import type { Platform, ToolchainDescriptor, ToolchainSpec } from "../toolchain/types.js";
import type { Sandbox, SandboxSettings } from "../sandbox/types.js";
import type { Settings } from "../config/schema.js";
import type { Logger } from "../util/logger.js";
import type { DepFileContents } from "./dep-file.js";

/**
 * What `resolveArchitecture` is asked about: a toolchain about to be packaged
 * (`toolchain`), or a descriptor a builder provides itself (`descriptor`,
 * from `describeToolchain`). Exactly one is set.
 */
export interface ArchitectureQuery {
  toolchain?: ToolchainSpec;
  descriptor?: ToolchainDescriptor;
}

/** What `describeToolchain` is asked: the compiler and the call of one miss (the target is per call). */
export interface DescriptorQuery {
  compiler: CompilerInfo;
  invocation: CompileInvocation;
}

/**
 * Files of this machine a local sandbox must hold, besides the toolchain and
 * the job's inputs, to run a call that `needsRunner` (rustc's links: the
 * linker, its crt objects and libraries). Programs and libraries bring the
 * shared libraries they load.
 */
export interface RunnerFiles {
  programs: string[];
  libraries: string[];
  files: string[];
  /** Where their shared libraries are found besides the loader's own search (as LD_LIBRARY_PATH would say). */
  libraryPath?: string[];
}

/** What `portableToolchain` is asked: a compiler, and the target its jobs must produce code for. */
export interface PortableToolchainQuery {
  compiler: CompilerInfo;
  /** Target triple, as `compiler.target` spells it on the machine the jobs come from. */
  target: string;
}

/**
 * How a build of the same compiler running on another host (another
 * architecture) compiles exactly what `compiler` does for `target`.
 */
export interface PortableToolchain {
  /**
   * Equal on every host for toolchains whose outputs for `target` are
   * byte-identical (the same release and build, called at the same path). A
   * builder holding a toolchain with this value may take the job.
   */
  equivalence: string;
  /** Arguments inserted after argv[0] of such a job (e.g. `--target=<triple>`): the job's, not the key's. */
  targetArgs: string[];
  /** Files of this machine the job must carry besides its inputs (absolute paths), e.g. clang's crtbegin.o. */
  files: string[];
}

/** What a detection plugin may look at. Probe results are memoised per executable. */
export interface CompilerProbe {
  /** The path the build system named, resolved on PATH (argv[0] of the real compile). */
  path: string;
  /** `path` with symlinks followed. */
  realPath: string;
  /** The name the user typed (basename of argv[0]). */
  invokedName: string;
  /** Run the compiler with these arguments (no stdin); memoised for this probe. */
  run(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }>;
}

export type CompilerDetection = Omit<CompilerInfo, "identity">;

/** Context of one cacheable call, passed to the key hook. */
export interface KeyContext {
  request: CompileRequest;
  compiler: CompilerInfo;
  invocation: CompileInvocation;
  mode: "direct" | "preprocessor";
  /**
   * The engine's content hash of a file (undefined when unreadable): memoised
   * by stat identity, and for large files kept across daemon restarts. Use it
   * rather than reading files yourself.
   */
  digestFile(path: string): Promise<string | undefined>;
}

/** An output marked `adapt`, as stored by an earlier call, to be written for this one. */
export interface AdaptOutputInput {
  output: OutputSpec;
  /** The stored bytes (as the call that made the entry wrote them). */
  data: Buffer;
  invocation: CompileInvocation;
  compiler: CompilerInfo;
}

/** Told to every plugin when a call is finished, whatever happened. */
export interface CallOutcome {
  request: CompileRequest;
  compiler?: CompilerInfo;
  invocation?: CompileInvocation;
  result: "hit-direct" | "hit-preprocessor" | "miss" | "not-cacheable" | "error" | "compile-failed";
  reason?: string;
  exitCode: number;
  durationMs: number;
}

/** Counters a `compileMiss` tap may add to (shown by `--show-stats`). */
export interface MissStats {
  /** The miss could not be compiled the configured way and went on to the next tap (or locally), for `reason`. */
  fallback(reason: string): void;
  /** The miss was compiled on another machine by `executor` (e.g. "farm"). */
  remoteCompile(executor: string, detail: { roundTripMs: number; bytesUploaded: number; roundTrips: number }): void;
  /**
   * A job made without a scan was accepted, or rejected for `reason` and run again: from a remembered list of files
   * (`speculationAccepted`, `speculationRejected:<reason>`), or from `predictReads` (`from` "predicted":
   * `predictionAccepted`, `predictionRejected:<reason>`).
   */
  speculation(outcome: "accepted" | { rejected: string }, from?: "remembered" | "predicted"): void;
}

/** What `MissContext.closureHoldsHere` checks: a compile that ran elsewhere, on files this machine sent. */
export interface ClosureCheckInput {
  /** Every file that compile read (absolute, the source included; its dependency file), with the content hash it read. */
  read: ReadonlyMap<string, string>;
  /** Those of them that contain `__has_include`. */
  probing: ReadonlySet<string>;
  /** Whether that compile could see `path` (the job carried it, or its toolchain holds it). */
  seen: (path: string) => boolean;
}

/**
 * Its answer. Holding: `unread`, the files present here where the include
 * search could have found one before a file that was read, which the
 * compile did not read (each one it could see): a job that carries them
 * too lets the next check hold. Not holding: `reason` "shadowed" names a file
 * here the compile there could not see; "include-search-unknown" and
 * "has-include-macro": nothing here can vouch.
 */
export type ClosureCheck = { holds: true; unread: string[] } | { holds: false; reason: "shadowed" | "include-search-unknown" | "has-include-macro"; path?: string };

/** A cache miss about to be compiled: where it is compiled is up to the `compileMiss` taps. */
export interface MissContext {
  request: CompileRequest;
  compiler: CompilerInfo;
  invocation: CompileInvocation;
  /** The call's settings (hermetic, dist, …). */
  settings: Settings;
  /**
   * The dependency file (make syntax) of this call's own preprocessing, when
   * the lookup ran it (the preprocessed fallback, preprocessor mode): every
   * file the preprocessor read. A job builder passes it to `buildJob`, which
   * then runs no closure scan when the plugin says the lists are the same.
   */
  preprocessDeps?: string;
  /**
   * The call's own dependency scan (`dependencies.scanArgv`: gcc's `-MMD`
   * calls, objects that record their command line), when it has one: runs it
   * now (at most once per call, outside the local slots) and gives its list
   * (make syntax), or undefined when it failed. The engine takes the same run
   * for the direct-mode manifest instead of scanning after the compile. A
   * job builder passes it to `buildJob`, which uses it as the closure when the
   * plugin says the lists are the same (`closureScan.sameAsDependencyScan`).
   */
  dependencyScan?: () => Promise<string | undefined>;
  /**
   * The daemon's file-hash cache, and the tokens the engine looks for in
   * this call's files (empty when it hashes none of them: preprocessor mode).
   * A job builder that hashes its inputs through them (`buildJob(…, hashes,
   * …, { tokens })`) reads no file the engine hashed already (the source, for
   * the key), and the engine's store after the answer finds the job's digests.
   */
  fileHashes?: { cache: FileHashCache; tokens: readonly string[] };
  /**
   * Whether one of the daemon's local compile slots (`maxJobs`) is free now.
   * A true answer keeps that slot for this call until it compiles locally (or
   * the call ends), so a burst of misses does not all see the same free slot.
   */
  localSlotFree(): boolean;
  /**
   * Whether a compile that ran elsewhere, on files this tap sent (a farm job
   * made from a remembered list of files instead of a scan), read exactly
   * what a compile here would read, given that it read only files it was
   * sent at the digests sent (the tap checks that against the compile's own
   * dependency file): the include search here finds no file where it would
   * have found one before a file that was read, and no `__has_include`
   * answers differently here. The absent-path facts direct mode records
   * for its entries (a hit on an entry of `read` rests on the same), but
   * strict: a file present here that the compile did not read holds only
   * when it could see it too. Never on a hit.
   */
  closureHoldsHere?(check: ClosureCheckInput): Promise<ClosureCheck>;
  /**
   * The files this call's compile may read, predicted without running the
   * compiler (the family's `predictReads` tap, on the call's include search):
   * a superset at best, a guess always. Undefined: no prediction (no tap, no
   * include search, or the tap cannot say). A job carrying them must be
   * checked after it ran as a remembered list is (`closureHoldsHere`). Never
   * on a hit.
   */
  predictReads?(): Promise<readonly string[] | undefined>;
  /** Runs `work` in a local compile slot: taps that use this machine's CPU (a sandbox) must. */
  inLocalSlot<T>(work: () => Promise<T>): Promise<T>;
  stats: MissStats;
  logger: Logger;
}

/**
 * A miss compiled by a tap: the compiler's exit status and streams, its own
 * duration, and every output already written where the compile writes it
 * (the dependency file included), as a local compile would have left them.
 */
export interface MissCompileResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
  /**
   * The digests of the files the compile read, when the tap knows the
   * compile saw exactly these bytes (a job that carried them): the store
   * records them in the manifest instead of taking each file's digest again
   * (a stat per file). Optional; a file missing here is hashed as usual.
   */
  inputs?: CompiledInputs;
  /**
   * The bytes of the outputs the tap wrote, by role (as written): the store
   * takes them instead of reading the files back. Optional; when a required
   * output of `invocation.outputs` is missing here, the files are read.
   */
  outputs?: readonly { role: string; data: Buffer }[];
  /**
   * The compile's dependency file (`invocation.dependencies.depFile`) as the
   * tap received it, and its parse (`parseDepFileWithEnv` against the
   * request's directory): the store takes them instead of reading the file
   * back and parsing it again. Optional.
   */
  depFile?: { text: string; contents: DepFileContents };
}

/** Digests a `compileMiss` tap took of the files its compile read (MissCompileResult.inputs). */
export interface CompiledInputs {
  /** The tokens the digests looked for: at least `MissContext.fileHashes.tokens` (else the store ignores them). */
  tokens: readonly string[];
  /** By absolute path: the content digest the compile read, as `FileHashCache.digest(path, tokens)` gives it. */
  digests: ReadonlyMap<string, FileDigest>;
  /**
   * Where the job's list of files came from: `preprocessDeps`, the shared
   * `dependencyScan`, or a scan of its own. The store records the digests
   * under the compile's own dependency file, or under that same list only: a
   * list made apart could miss a file an edit made the compile read.
   */
  listedBy: "preprocessing" | "dependency-scan" | "own";
}

/** A miss's compile is over: what `listDependencies` reads to say which files it read. */
export interface DependencyListInput {
  invocation: CompileInvocation;
  cwd: string;
  /** The content of `dependencies.listFile` as the compile left it (undefined: not written). */
  listed: string | undefined;
  /** The content of `dependencies.depFile` (the user's own, e.g. `-MMD`), when there is one. */
  depText: string | undefined;
}

/**
 * A file's stat identity as the compile itself took it, from the open file
 * it had just read (after reading it): device, inode, size, and mtime and
 * ctime in nanoseconds, as `stat` gives them, in decimal, one space apart
 * (`"2049 1835 4286 1700000000123456789 1700000000123456789"`). A string,
 * compared as a whole: a miss reports hundreds of them.
 */
export type ReadIdentity = string;

/** What a `listDependencies` tap may return besides a plain list of files. */
export interface CompileReads {
  /** Every file the compile read (absolute, the source included); absent: `dependencies.depFile` lists them, or `scanArgv` runs. */
  files?: string[];
  /**
   * By absolute path, each file's identity as the compile saw it once it had
   * read it (`ReadIdentity`). When the daemon holds a file's content under
   * that identity, and the identity's timestamps are older than the
   * compile's start, it needs no stat of its own. Omit a file whose
   * identity the compile did not take itself, or saw change.
   */
  identities?: ReadonlyMap<string, ReadIdentity>;
}

/** A file read by a compile whose invocation names `textDigest`: its bytes, and the invocation's dialect. */
export interface TextDigestInput {
  data: Buffer;
  dialect: string;
}

/** What a `textDigest` tap returns. */
export interface TextDigestResult {
  /** The file as the compile's outputs depend on it (e.g. comments blanked); null when only its exact bytes can tell. */
  text: Buffer | null;
  /** The file makes more than its text matter to the whole compile (C23 `#embed` reads another file's bytes; a pragma turns on a warning that reads comments): no file of such a compile is compared by text. */
  embeds?: boolean;
}

/** What `includeSearch` reads: how the call's `includeSearchArgv` ran (in the call's working directory and environment). */
export interface IncludeSearchOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
  cwd: string;
}

/**
 * The directories a compile searches for includes, in order, as its
 * compiler reports them. Relative paths are taken against the call's cwd.
 */
export interface IncludeSearch {
  /** Searched for `#include "…"` after the including file's own directory, before `angle` (`-iquote`). */
  quote: string[];
  /** Searched for `#include <…>`, and for quoted includes after `quote`: `-I`, `-isystem`, the system's, `-idirafter`. */
  angle: string[];
  /** Named by the call or the compiler but absent, so left out of the search: created later, they join it. */
  missing: string[];
}

/** What `predictReads` is asked: a miss about to become a job without a closure scan. */
export interface ReadPredictionInput {
  invocation: CompileInvocation;
  cwd: string;
  /** The call's include search (its `includeSearch` answer). */
  search: IncludeSearch;
}

/**
 * Every extension point of the engine, declared in one place.
 * See docs/plugin-guide.md for when each runs and what it may return.
 */
export function createHooks() {
  return Object.freeze({
    /** Bail: first plugin that recognises the executable returns its description. */
    detectCompiler: new AsyncSeriesBailHook<[CompilerProbe], CompilerDetection | undefined>(["probe"]),
    /** Keyed by `CompilerInfo.family`. Bail: returns whether and how the call is cached. */
    parseArguments: new HookMap(() => new SyncBailHook<[ParseInput], ParseResult | undefined>(["input"])),
    /**
     * Keyed by `CompilerInfo.family`. Bail: reads the output of a call's
     * `includeSearchArgv` into its include search (undefined: cannot say; the
     * entry is then not stored for direct mode). Asked when a direct-mode
     * entry is stored, or a miss asks for `predictReads` or
     * `closureHoldsHere`, once per distinct command, cwd and `keyEnv`
     * values; never on a hit.
     */
    includeSearch: new HookMap(() => new SyncBailHook<[IncludeSearchOutput], IncludeSearch | undefined>(["output"])),
    /**
     * Keyed by `CompilerInfo.family`. Bail: the files a miss's compile may
     * read (absolute, the source included), predicted without running the
     * compiler, or null when it cannot say (MissContext.predictReads). A
     * guess: its user checks the compile's own list against it afterwards.
     * Asked on a miss that a tap would otherwise scan; never on a hit.
     */
    predictReads: new HookMap(() => new SyncBailHook<[ReadPredictionInput], string[] | null | undefined>(["input"])),
    /** Series: each plugin may add to the cache key after the engine's own parts. */
    extendKey: new AsyncSeriesHook<[KeyHasher, KeyContext]>(["hasher", "context"]),
    /**
     * Keyed by `CompilerInfo.family`. Bail: on a hit, for each output marked
     * `adapt`, returns the bytes this call's compile would have written, or
     * null when it cannot say (the call then compiles). Before an entry is
     * stored its own outputs go through it too, and must come back unchanged.
     */
    adaptOutput: new HookMap(() => new SyncBailHook<[AdaptOutputInput], Buffer | null | undefined>(["input"])),
    /**
     * Keyed by `CompilerInfo.family`. Bail: after a successful miss whose
     * invocation names `dependencies.listFile`, returns every file the
     * compile read (absolute paths, the source included), or null when it
     * cannot tell: the engine then runs `dependencies.scanArgv`. Or
     * `CompileReads`: the list (optional) with the identity the compile
     * took of each file it read, which spares the daemon a stat per file.
     */
    listDependencies: new HookMap(() => new SyncBailHook<[DependencyListInput], string[] | CompileReads | null | undefined>(["input"])),
    /**
     * Keyed by `CompilerInfo.family`. Bail: for a call whose invocation names
     * `textDigest`, a file it read as its outputs depend on it (two files with
     * equal texts give equal outputs of a silent compile). Asked once per file
     * content and dialect per daemon, when a silent miss's manifest entry is
     * stored and when a direct-mode lookup finds no entry by content; never
     * on a hit.
     */
    textDigest: new HookMap(() => new SyncBailHook<[TextDigestInput], TextDigestResult | undefined>(["input"])),
    /** Bail: first plugin that serves `settings.kind` returns the storage. The local disk store is built in. */
    createStorage: new SyncBailHook<[StorageSettings], CacheStorage | undefined>(["settings"]),
    /** Bail: the compiler's plugin lists the files that make it runnable elsewhere. */
    packageToolchain: new AsyncSeriesBailHook<[CompilerInfo], ToolchainSpec | undefined>(["compiler"]),
    /**
     * Bail: a descriptor for the compiler of this miss (a toolchain builders
     * provide themselves, e.g. rustup's) instead of an archive; undefined
     * keeps the archive (`packageToolchain`).
     */
    describeToolchain: new AsyncSeriesBailHook<[DescriptorQuery], ToolchainDescriptor | undefined>(["query"]),
    /**
     * Bail: for a miss whose call `needsRunner`, the files of this machine
     * that meet the need in a hermetic sandbox here; undefined keeps the call
     * local. Asked by hermetic mode on a miss, never on a hit nor on the farm.
     */
    runnerFiles: new AsyncSeriesBailHook<[DescriptorQuery], RunnerFiles | undefined>(["query"]),
    /** Bail: the platforms (arch + OS) of hosts that can run a toolchain (read from its binaries) or provide a descriptor. */
    resolveArchitecture: new AsyncSeriesBailHook<[ArchitectureQuery], Platform[] | undefined>(["query"]),
    /**
     * Bail: whether another host's build of this compiler can compile its jobs
     * for `target` with identical outputs, and how (docs/cross-arch.md). Asked
     * by the farm client on a miss (memoised per compiler) and by a builder
     * for the compilers it holds; never on a hit.
     */
    portableToolchain: new AsyncSeriesBailHook<[PortableToolchainQuery], PortableToolchain | undefined>(["query"]),
    /** Bail: the sandbox plugin whose name the config selects returns its implementation. */
    createSandbox: new SyncBailHook<[SandboxSettings], Sandbox | undefined>(["settings"]),
    /**
     * Bail: where a cache miss is compiled. The first tap that returns a result
     * compiled it (hermetic sandbox, build farm); when every tap passes
     * (undefined), the compiler runs locally in a local slot.
     */
    compileMiss: new AsyncSeriesBailHook<[MissContext], MissCompileResult | undefined>(["context"]),
    /** Parallel: told when a call ends (stats, logging, telemetry). Errors are logged, never fail the build. */
    callFinished: new AsyncParallelHook<[CallOutcome]>(["outcome"]),
  });
}

export type EngineHooks = ReturnType<typeof createHooks>;

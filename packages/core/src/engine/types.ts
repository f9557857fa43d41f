/**
 * Values that cross the boundary between the engine and its plugins.
 * Everything here is plain data so that it can be logged, serialised and
 * (later) shipped to a build farm.
 */

/** One call of a compiler as the build system made it, forwarded by the client. */
export interface CompileRequest {
  /** argv as given after `reprise` (or, when masquerading, with argv[0] the link name). */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Whether the client's stdout/stderr are terminals (decides colored diagnostics). */
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Path the client was started as, when it masquerades as the compiler (a `gcc` symlink to reprise). */
  masqueradeAs?: string;
}

/** What a plugin learns about a compiler executable by probing it. Cached per executable. */
export interface CompilerInfo {
  /** Plugin-defined family name; selects `hooks.parseArguments.for(family)`. */
  family: string;
  /** Absolute path the compiler is run at (argv[0] matters to clang, so this is not the realpath). */
  path: string;
  /** The executable after following symlinks. */
  realPath: string;
  /** Human version, e.g. "12.2.0". */
  version: string;
  /** Full text of the version probe; part of the identity. */
  versionText: string;
  /** Target triple or machine the compiler produces code for, when the plugin knows it. */
  target?: string;
  /**
   * Other files whose contents define the compiler's behaviour (e.g. gcc's cc1).
   * The engine hashes them into the identity.
   */
  identityFiles?: string[];
  /** Filled in by the engine: hash of binary, identity files and version text. */
  identity: string;
  /** Filled in by the engine: the plugin that detected it (stats count calls by it). */
  plugin?: string;
  /** Free-form data for the plugin's own later hooks. */
  data?: Record<string, unknown>;
}

/** A file the compile writes and a hit must restore. */
export interface OutputSpec {
  /** Stable name within an entry: "object", "dep", "dwo", "gcno", ... */
  role: string;
  /** Absolute path. */
  path: string;
  /** When true, a compile that does not write it is still cacheable (the file is just absent on a hit). */
  optional?: boolean;
  /** Restored with execute permission (linked programs, shared objects). */
  executable?: boolean;
  /**
   * Present when the bytes name something of the call that the key leaves
   * out (a dependency file's target, derived from `-o`): a hit passes the
   * stored bytes and this plugin data to `adaptOutput` for the compiler's
   * family, which returns them as this call's compile would have written
   * them. Plain data for the plugin's own use.
   */
  adapt?: Record<string, unknown>;
}

/**
 * A token whose presence in the source or any included file makes the output
 * depend on the moment of compilation (e.g. C's `__DATE__`).
 *  - "date": the result is keyed by today's date as well.
 *  - "uncacheable": the call is not cached at all.
 */
export interface VolatileMarker {
  token: string;
  effect: "date" | "uncacheable";
}

/** How the engine learns which files a compile read (for the direct-mode manifest). */
export interface DependencyDiscovery {
  /** The compile reads no file but the source (e.g. already preprocessed input). */
  none?: boolean;
  /**
   * A Make-format dependency file the compile itself writes (user's own `-MF`
   * or one the plugin added). Listed files are resolved against the cwd.
   */
  depFile?: string;
  /** True when the engine must delete `depFile` after reading it (the plugin added it). */
  depFileIsTemporary?: boolean;
  /**
   * When the compile's own dependency file misses files (e.g. gcc's `-MMD`
   * leaves out system headers), a separate command that writes a complete one
   * to `scanDepFile`. Run alongside the compile, only on a miss.
   */
  scanArgv?: string[];
  scanDepFile?: string;
  /**
   * An absolute path the compile itself writes (an option or variable the
   * plugin added that changes no output): every file it read, in the
   * plugin's own format. After a successful compile, the `listDependencies`
   * hook of the compiler's family turns it into the list, and `scanArgv`
   * does not run; when the hook cannot tell (null), the scan runs then. The
   * engine deletes the file.
   */
  listFile?: string;
  /**
   * Variables set for the miss's local compile alone (over `compileEnv`, else
   * the caller's environment) so that it writes `listFile`: never for the
   * preprocessing, the scans or a job run elsewhere.
   */
  listEnv?: Record<string, string>;
}

/** What of a call's paths its outputs record; which options map prefixes is the plugin's knowledge. */
export interface PathRecording {
  /** Debug info records the cwd and the paths of what was read, except under `debugMaps`. */
  debugInfo: boolean;
  /** Absolute directories the compiler maps away in debug info (`-fdebug-prefix-map`/`-ffile-prefix-map` old parts). */
  debugMaps: string[];
  /** Tokens that record the path of the file they appear in (`__FILE__`), looked for in the source and every header. */
  fileTokens: string[];
  /** Absolute directories the compiler maps away in those tokens (`-fmacro-prefix-map`/`-ffile-prefix-map`). */
  macroMaps: string[];
  /** The outputs record paths no prefix map removes (coverage notes, profile data paths): no sharing between checkouts. */
  unmappable: boolean;
  /**
   * Outputs (by role) and whether the streams name paths as plain text the
   * compiler writes as it was given them (a dependency file's paths, rustc's
   * artifact notifications): there a base directory is stored as a
   * placeholder and restored as this checkout's, instead of binding the entry
   * to its checkout. Only for base directories of characters no such format
   * escapes.
   */
  relocatable?: { outputs: string[]; streams: boolean };
  /**
   * The compile may run code that reads the checkout's paths without the key
   * knowing (rustc: proc macros). Markers name that code; an entry whose
   * outputs hold one is bound to its checkout (rustc's metadata names every
   * crate the compile loaded). Worked out when an entry is stored under a
   * base directory, never on a hit.
   */
  bindingMarkers?: BindingMarkers;
}

export interface BindingMarkers {
  /** Markers named by the arguments: code the compile can load for certain. */
  names: string[];
  /** More markers: the first group of `pattern` (a regular expression) in the names of the files in these directories. */
  filesIn?: { dirs: string[]; pattern: string };
  /** False when no output would show a marker (no metadata among them). */
  outputsShow: boolean;
  /**
   * Files that name every marker the compile could load (rustc: its `--extern`
   * crates' metadata, for a program): a marker found in one binds the entry.
   * When no output shows markers and none of these are given, any marker binds it.
   */
  shownIn?: string[];
}

/**
 * How a job learns which files it carries: a command that writes, without
 * compiling, a Make-format list of every file the compile reads.
 */
export interface ClosureScan {
  argv: string[];
  /** Where the command writes the list (removed after it is read). */
  depFile: string;
  /** Variables set for the scan alone, over the call's `compileEnv` (else the caller's environment). */
  setEnv?: Record<string, string>;
  /**
   * Where the scan (through `setEnv`) lists what it read with each file's
   * identity, in the form the family's `listDependencies` tap reads (removed
   * after it is read). A job then takes a file's digest without a `stat`
   * when the daemon holds its content under the identity the scan took
   * (`CompileReads.identities`), as the store does after a compile.
   */
  listFile?: string;
  /** Absolute directories whose files the toolchain archive holds: listed files under them are not carried. */
  toolchainDirs?: string[];
  /**
   * Files carried beside listed ones: for a listed path ending in `suffix`,
   * the same path ending in `replacement` instead, when it exists (rustc's
   * scan names a dependency's `.rmeta`; linking the crate reads its `.rlib`).
   */
  companions?: { suffix: string; replacement: string }[];
  /**
   * The dependency file of `preprocessArgv` (`preprocessDepFile`) lists
   * exactly the files this scan would: a job built for a miss whose lookup
   * already preprocessed the call (the preprocessed fallback, preprocessor
   * mode) takes that list and runs no scan of its own.
   */
  sameAsPreprocessDeps?: boolean;
  /**
   * The call's dependency scan (`dependencies.scanArgv`, its list in
   * `scanDepFile`) lists exactly the files this scan would: a job takes that
   * scan's list (MissContext.dependencyScan), which the engine then uses too,
   * instead of a scan of its own.
   */
  sameAsDependencyScan?: boolean;
}

/** A compiler call the plugin understood and declared cacheable. */
export interface CompileInvocation {
  /** Language of the source as the compiler sees it: "c", "c++", "objective-c", "assembler-with-cpp", ... */
  language: string;
  /** Absolute path of the single source file. */
  sourceFile: string;
  /** Every file the compile writes that a hit must restore. */
  outputs: OutputSpec[];
  /**
   * Arguments that can change any output or diagnostic, normalised by the
   * plugin (e.g. without `-MF` paths). Order is kept: `-I` order matters.
   */
  keyArgs: string[];
  /**
   * Arguments that only matter to the preprocessor; left out of the key in
   * preprocessor mode (the preprocessed text already reflects them).
   */
  preprocessorOnlyArgs: string[];
  /** Full argv (argv[0] = compiler path) run on a miss. */
  compileArgv: string[];
  /**
   * Full argv that writes the preprocessed source to stdout (preprocessor
   * mode). Absent when the source is already preprocessed (`dependencies.none`):
   * its contents are used. Absent otherwise: the call uses direct mode.
   */
  preprocessArgv?: string[];
  /**
   * When set, `preprocessArgv` also writes a complete Make-format dependency
   * file here (every file read, system headers too; any target). The engine
   * reads and deletes it: a direct-mode fallback hit records its manifest
   * entry from it, and a miss after the fallback's preprocessing needs no
   * `dependencies.scanArgv` run.
   */
  preprocessDepFile?: string;
  /** Where the include list for direct mode comes from. */
  dependencies: DependencyDiscovery;
  /**
   * A command that writes, without compiling, a Make-format list of every file
   * the compile reads (`-M -MF depFile`). Hermetic mode and farm jobs run it
   * first, to know which files a job must carry.
   */
  closureScan?: ClosureScan;
  /** Directories the compiler searches for includes named in the arguments (absolute); widens `__has_include` resolution for jobs. */
  includeDirs?: string[];
  /**
   * A command (argv[0] = compiler) whose output tells, through the family's
   * `includeSearch` hook, the directories this call searches for includes
   * (e.g. `gcc <include options> -E -v -x c /dev/null`). Direct mode then
   * records where a new header would change the compile (engine/absent-paths.ts).
   * Absent: the language has no include search, and direct mode records only the files read.
   */
  includeSearchArgv?: string[];
  /** Names of environment variables whose values can change the outputs or diagnostics. */
  keyEnv: string[];
  /**
   * What a job (hermetic mode, the farm) passes of the caller's environment to
   * the compiler besides `keyEnv` and the locale and time-zone variables:
   * variables the compiler reads that do not change its outputs (`PATH` to
   * find the assembler, the terminal's width). `prefixes` match names by
   * their start (`CARGO_`). Nothing else of the caller's environment leaves
   * the client (tokens, keys, home directories). Absent: only `keyEnv` and
   * the locale and time zone.
   */
  jobEnv?: { names: string[]; prefixes?: string[] };
  /**
   * Arguments or environment variables of this call that make the compiler
   * load or run code they name (`-fplugin=x.so`, `-specs=x`,
   * `GCC_EXEC_PREFIX=…`), as the user wrote them. Outside a sandbox that is
   * the user's own choice; hermetic mode compiles such a call locally
   * (`hermetic-loads-code`), because its closure scan runs on the host and
   * would run that code outside any sandbox.
   */
  loadsCode?: string[];
  /**
   * The argv a job runs instead of `compileArgv`, when options of the call
   * resolve against the machine that runs them (`-march=native`: the plugin
   * puts what they stand for on this machine instead). The key uses the same
   * resolution.
   */
  jobArgv?: string[];
  /** Why no job (in a sandbox or elsewhere) can give this call's outputs byte for byte; hermetic mode compiles it locally (`hermetic-unportable`). */
  unportable?: string;
  /**
   * This call never becomes a job, for a reason of the plugin's (e.g. the
   * builder would need a linker): counted as `hermetic-<reason>` in hermetic
   * mode and `dist-not-distributable-<reason>` on the farm, and compiled locally.
   */
  localOnly?: { reason: string; detail: string };
  /**
   * The job needs more of the machine that runs it than its toolchain and
   * inputs (rustc's linked crates: a linker and system libraries for the
   * target). Only a farm builder that a `describeToolchain` descriptor's
   * `requires` vouches for may take it; hermetic mode and toolchain archives
   * compile it locally, counted as `hermetic-<reason>` /
   * `dist-not-distributable-<reason>`.
   */
  needsRunner?: { reason: string; detail: string };
  /** Tokens that make the output time-dependent; scanned for in the source and every include. */
  volatileMarkers: VolatileMarker[];
  /** Whether the cwd ends up in the outputs (debug info, coverage notes). */
  dependsOnCwd: boolean;
  /**
   * The outputs are given by the key's arguments and the preprocessed text
   * alone (nothing records file contents or paths the text lacks, as debug
   * info does): a direct-mode miss then looks up the preprocessed text's key
   * before compiling, so a comment added to a header still hits.
   */
  preprocessedDeterminesOutputs?: boolean;
  /**
   * The outputs are given by each file's text as the family's `textDigest`
   * hook reads it (for C: comments blanked, every token at its line and
   * column), in this `dialect` (passed to the hook). A direct-mode entry of
   * a silent compile then records each file's text digest, and a call whose
   * files changed only where the text does not show (a header's comment)
   * hits. Absent: files are compared by their exact content only.
   */
  textDigest?: { dialect: string };
  /**
   * How the outputs record paths, for `baseDirs` (docs/sharing.md). Absent:
   * the engine cannot tell, and keys the call's paths as they are.
   */
  pathRecording?: PathRecording;
  /** Whether diagnostics are colored for this call; part of the key. */
  colorDiagnostics: boolean;
  /** Extra files whose contents feed the key (e.g. `-fprofile-use` data, sanitizer blocklists). */
  extraInputFiles: string[];
  /**
   * The environment of the commands the engine runs for this call on a miss
   * (`compileArgv`, `preprocessArgv`, `dependencies.scanArgv`); the caller's
   * when absent. For variables that only work in the caller's process (e.g.
   * a jobserver named by inherited file descriptors). Not part of the key:
   * variables that change the outputs belong in `keyEnv`. Calls that are not
   * cached run in the client with the caller's environment.
   */
  compileEnv?: Record<string, string>;
}

export type ParseResult =
  | { cacheable: true; invocation: CompileInvocation }
  | { cacheable: false; reason: NonCacheableReason; detail?: string };

/**
 * Why a call was not cached. Plugins may use their own strings; these are the
 * ones first-party plugins and the engine use, so that stats group them.
 */
export type NonCacheableReason =
  | "linking"
  | "preprocess-only"
  | "dependencies-only"
  | "multiple-sources"
  | "no-source"
  | "stdin-source"
  | "unsupported-language"
  | "unsupported-option"
  | "profile-data"
  | "response-file"
  | "output-to-stdout"
  | "time-macro"
  | "unknown-compiler"
  | "disabled"
  | "compiler-failed"
  | (string & {});

/** Everything a parser gets to look at. */
export interface ParseInput {
  /** argv with argv[0] replaced by the resolved compiler path. */
  argv: string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  compiler: CompilerInfo;
  stderrIsTTY: boolean;
  /** A fresh path in a private temporary directory, for files a plugin adds (e.g. a dep file). */
  tempPath(suffix: string): string;
}

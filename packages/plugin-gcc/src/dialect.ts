import type { CompilerInfo, NonCacheableReason, VolatileMarker } from "@reprise/core";
import type { CompileListing } from "./compile-listing.js";
import type { LexedArg } from "./lex-arguments.js";
import { gccOptionTable, type OptionTable } from "./option-table.js";
import { gccNativeResolver, isNativeCpuOption, type NativeCpuResolver } from "./native-cpu.js";
import { gccRuleLayout, type DepRuleLayout } from "./dep-target.js";

export type LexedOption = Extract<LexedArg, { kind: "option" }>;

/**
 * Where gcc-like drivers differ. The argument parser is shared; a family
 * (gcc, clang) describes itself with one of these.
 */
export interface GccLikeDialect {
  /** Option table used to split the arguments. */
  table: OptionTable;
  /** Reject `--` options missing from the table (see `LexOptions`). */
  rejectUnknownLongOptions: boolean;
  /** What an argument says about colored diagnostics, or undefined when it says nothing. */
  colorSetting(arg: string): boolean | "auto" | undefined;
  /** Appended to the compile when the user's terminal would have shown colors. */
  forceColorArgs: readonly string[];
  /**
   * Appended to the preprocessing whose text is only hashed for a key
   * (`preprocessArgv`), never to a compile: options that make it cheaper and
   * keep every token and line of the text.
   */
  textKeyArgs: readonly string[];
  /** Whether `-gsplit-dwarf` alone turns debug info on (GCC 12: yes; clang 14: no). */
  splitDwarfEnablesDebug: boolean;
  /**
   * Whether the object records the whole command line (clang's
   * `-frecord-command-line`): then -D/-I and the -o path reach the object
   * and must stay in every key. GCC 12 records neither (checked).
   */
  recordsCommandLine(args: readonly string[]): boolean;
  /** Environment variables that can change outputs or diagnostics. */
  keyEnv(colorDiagnostics: boolean): string[];
  /** The time macros that make a result time-dependent, given the caller's environment. */
  timeMarkers(env: Readonly<Record<string, string>>, compiler: CompilerInfo): VolatileMarker[];
  /** Whether the call runs in C++ driver mode (g++, clang++ or `--driver-mode=g++`). */
  cxxDriver(compiler: CompilerInfo, args: readonly LexedArg[]): boolean;
  /** Vetoes the whole call before anything else is looked at (e.g. clang's `--driver-mode=cl`). */
  rejectCall?(args: readonly LexedArg[]): { reason: NonCacheableReason; detail: string } | undefined;
  /** Vetoes an option beyond the table's `notCacheable`. */
  rejectOption?(arg: LexedOption): { reason: NonCacheableReason; detail: string } | undefined;
  /** What a job passes to the compiler besides `keyEnv` (see `CompileInvocation.jobEnv`). */
  jobEnv: { names: string[]; prefixes?: string[] };
  /**
   * Option prefixes that make the compiler load or run code the option names
   * (also looked for inside `-Wp,`, `-Xpreprocessor` and `-Xclang`), and
   * variables that do: see `CompileInvocation.loadsCode`.
   */
  codeLoadingOptions: readonly string[];
  codeLoadingEnv: readonly string[];
  /** How the compiler lays out a dependency file's first rule (its line wrapping). */
  depRuleLayout: DepRuleLayout;
  /** How a compile lists every file it read in its own run, where `-MMD` leaves system headers out (compile-listing.ts). */
  compileListing: CompileListing;
  /** How any other miss's compile reports each file's identity as it read it (compile-listing.ts), if it can. */
  identityListing?: CompileListing;
  /** How `-march=native` and the like are resolved, and why a job could still not reproduce a call that uses them. */
  nativeCpu: { resolver: NativeCpuResolver; unportable(args: readonly string[], debug: boolean): string | undefined };
}

const LOCALE_AND_PATHS = [
  "CPATH",
  "C_INCLUDE_PATH",
  "CPLUS_INCLUDE_PATH",
  "OBJC_INCLUDE_PATH",
  "SOURCE_DATE_EPOCH",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "LC_MESSAGES",
  "COMPILER_PATH",
];

/**
 * What GCC's driver and cc1 read from the environment without it changing
 * their outputs, beyond `keyEnv` (GCC manual, "Environment Variables
 * Affecting GCC", and its diagnostics): `PATH` (the assembler, when the
 * driver's own directories have none), the terminal width and URL and color
 * settings of diagnostics. `LIBRARY_PATH` only matters to linking.
 */
const GCC_JOB_ENV = ["PATH", "COLUMNS", "TERM", "GCC_URLS", "TERM_URLS", "GCC_EXTRA_DIAGNOSTIC_OUTPUT", "GCC_COMPARE_DEBUG"];

/** Variables that make a process load other code: the loader's, and GCC's own search paths for the programs it runs (cc1, as). */
const LOADER_ENV = ["LD_PRELOAD", "LD_AUDIT"];

export const TIME_MARKERS: readonly VolatileMarker[] = [
  { token: "__DATE__", effect: "date" },
  { token: "__TIME__", effect: "uncacheable" },
  { token: "__TIMESTAMP__", effect: "uncacheable" },
];

export const gccDialect: GccLikeDialect = {
  table: gccOptionTable,
  rejectUnknownLongOptions: true,
  colorSetting(arg) {
    if (arg === "-fdiagnostics-color" || arg === "-fdiagnostics-color=always") return true;
    if (arg === "-fno-diagnostics-color" || arg === "-fdiagnostics-color=never") return false;
    if (arg === "-fdiagnostics-color=auto") return "auto";
    return undefined;
  },
  forceColorArgs: ["-fdiagnostics-color=always"],
  // Macro-expansion tracking is a fifth of `cc1 -E`'s instructions; without it the text loses only the line markers
  // that flag a system header's macro expanded in the user's code (bench/results/2026-12-07-cold-lean5.md).
  textKeyArgs: ["-ftrack-macro-expansion=0"],
  splitDwarfEnablesDebug: true,
  recordsCommandLine: () => false,
  keyEnv(color) {
    return [...LOCALE_AND_PATHS, "GCC_EXEC_PREFIX", ...(color ? ["GCC_COLORS"] : [])];
  },
  timeMarkers(env) {
    // SOURCE_DATE_EPOCH fixes __DATE__ and __TIME__ (its value is in the key), but
    // GCC's __TIMESTAMP__ is still the source file's mtime, which no key holds.
    return env.SOURCE_DATE_EPOCH !== undefined ? TIME_MARKERS.filter((m) => m.token === "__TIMESTAMP__") : [...TIME_MARKERS];
  },
  cxxDriver(compiler) {
    return compiler.data?.cxx === true;
  },
  jobEnv: { names: GCC_JOB_ENV },
  // -fplugin= loads a shared object into cc1; a specs file can name other programs and options. (-B and -wrapper are not cached at all.)
  codeLoadingOptions: ["-fplugin=", "-specs", "--specs"],
  codeLoadingEnv: [...LOADER_ENV, "GCC_EXEC_PREFIX", "COMPILER_PATH"],
  depRuleLayout: gccRuleLayout,
  compileListing: "read-trace",
  identityListing: "read-trace",
  nativeCpu: {
    resolver: gccNativeResolver,
    unportable(args, debug) {
      // GCC writes cc1's options into DW_AT_producer; the expansion of -march=native sits there in an order
      // (its --param options among the -m ones) that no command line can give cc1 (checked with GCC 12).
      const record = args.filter((a) => a === "-grecord-gcc-switches" || a === "-gno-record-gcc-switches").pop();
      if (debug && record !== "-gno-record-gcc-switches") {
        return `${args.filter(isNativeCpuOption).join(" ")} with -g: GCC records the options it stands for in the debug info in an order only its own CPU detection gives (-gno-record-gcc-switches lifts this)`;
      }
      return undefined;
    },
  },
};

export { GCC_JOB_ENV, LOADER_ENV };

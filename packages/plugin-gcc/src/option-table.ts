import type { NonCacheableReason } from "@reprise/core";

/**
 * How an option takes its value:
 *  - "flag": none.
 *  - "separate": the next argument (`-Xlinker foo`).
 *  - "joined": the rest of the same argument; the table name is a prefix (`-Wp,-MD,x.d`, `-fplugin=x.so`).
 *  - "joined-or-separate": either (`-Ifoo` or `-I foo`).
 *  - "joined-and-separate": both, e.g. clang's `-Xarch_arm64 -O2`.
 */
export type OptionArity = "flag" | "separate" | "joined" | "joined-or-separate" | "joined-and-separate";

export interface OptionSpec {
  arity: OptionArity;
  /** Read only by the preprocessor: left out of the key in preprocessor mode. */
  preprocessorOnly?: boolean;
  /** The call is not cached when this option appears. */
  notCacheable?: NonCacheableReason;
  /** The value names a file whose contents affect the outputs (hashed into the key). */
  inputFile?: boolean;
  /** Another spelling of this option (e.g. gcc's `--output` for `-o`); the parser only sees `alias`. */
  alias?: string;
}

export type OptionEntries = Readonly<Record<string, OptionSpec>>;

export interface OptionMatch {
  /** Canonical name (the alias target when the option is an alias). */
  name: string;
  /** Name as written in the table, i.e. how the argument starts. */
  spelling: string;
  spec: OptionSpec;
  /** Value written in the same argument, for joined forms. */
  joinedValue?: string;
}

/**
 * Options a gcc-like driver knows, looked up by exact name first and then by
 * the longest joined prefix. Options not in the table are flags; that is safe
 * as long as every option that takes a separate argument is listed.
 */
export class OptionTable {
  private readonly exact: ReadonlyMap<string, OptionSpec>;
  private readonly prefixes: ReadonlyArray<readonly [string, OptionSpec]>;

  constructor(readonly entries: OptionEntries) {
    this.exact = new Map(Object.entries(entries));
    this.prefixes = Object.entries(entries)
      .filter(([, s]) => s.arity === "joined" || s.arity === "joined-or-separate" || s.arity === "joined-and-separate")
      .sort((a, b) => b[0].length - a[0].length);
  }

  /** A new table with `more` added to (or replacing) these entries. */
  extend(more: OptionEntries): OptionTable {
    return new OptionTable({ ...this.entries, ...more });
  }

  lookup(arg: string): OptionMatch | undefined {
    const spec = this.exact.get(arg);
    if (spec) return { name: spec.alias ?? arg, spelling: arg, spec };
    for (const [prefix, s] of this.prefixes) {
      if (arg.length > prefix.length && arg.startsWith(prefix)) {
        return { name: s.alias ?? prefix, spelling: prefix, spec: s, joinedValue: arg.slice(prefix.length) };
      }
    }
    return undefined;
  }
}

const flag = (extra: Omit<OptionSpec, "arity"> = {}): OptionSpec => ({ arity: "flag", ...extra });
const separate = (extra: Omit<OptionSpec, "arity"> = {}): OptionSpec => ({ arity: "separate", ...extra });
const joined = (extra: Omit<OptionSpec, "arity"> = {}): OptionSpec => ({ arity: "joined", ...extra });
const either = (extra: Omit<OptionSpec, "arity"> = {}): OptionSpec => ({ arity: "joined-or-separate", ...extra });

export const optionSpec = { flag, separate, joined, either } as const;

const unsupported = { notCacheable: "unsupported-option" } as const;
const profile = { notCacheable: "profile-data" } as const;
const pp = { preprocessorOnly: true } as const;

/** A long option and its `--name=value` form, both standing for `alias`. */
function long(name: string, alias: string, extra: Omit<OptionSpec, "arity" | "alias"> = {}): OptionEntries {
  return { [name]: separate({ alias, ...extra }), [`${name}=`]: joined({ alias, ...extra }) };
}

/** GCC 12's driver options that matter for parsing, caching or the key. */
export const gccOptions: OptionEntries = {
  // Output and mode.
  "-o": either(),
  "-c": flag(),
  "-S": flag(),
  "-E": flag(),
  "-x": either(),
  "-v": flag(unsupported),
  "-###": flag(unsupported),
  "-pipe": flag(),

  // Preprocessor: search paths, macros, forced includes.
  "-I": either(pp),
  "-I-": flag(pp),
  "-D": either(pp),
  "-U": either(pp),
  "-A": either(pp),
  "-include": either(pp),
  "-imacros": either(pp),
  "-isystem": either(pp),
  "-iquote": either(pp),
  "-idirafter": either(pp),
  "-iprefix": either(pp),
  "-iwithprefix": either(pp),
  "-iwithprefixbefore": either(pp),
  "-nostdinc": flag(pp),
  "-Wp,": joined(),
  "-Xpreprocessor": separate(),
  "-isysroot": either(),
  "-imultilib": either(),
  "-imultiarch": either(),
  "--sysroot": separate(),
  "--sysroot=": joined(),

  // Dependency files.
  "-M": flag(),
  "-MM": flag(),
  "-MD": flag(),
  "-MMD": flag(),
  "-MF": either(),
  "-MT": either(),
  "-MQ": either(),
  "-MP": flag(),
  "-MG": flag(),

  // Assembler and linker pass-through (inert with -c, but kept in the key).
  "-Wa,": joined(),
  "-Xassembler": separate(),
  "-Wl,": joined(),
  "-Xlinker": separate(),
  "-L": either(),
  "-l": either(),
  "-T": either(),
  "-u": either(),
  "-e": either(),
  "-z": separate(),

  "--param": separate(),
  "--param=": joined(),
  "-aux-info": separate(unsupported),
  "-B": either({ notCacheable: "unsupported-option" }),
  "-wrapper": separate(unsupported),
  "-specs": separate({ inputFile: true }),
  "-specs=": joined({ inputFile: true }),
  "-fplugin=": joined({ inputFile: true }),
  "-fsanitize-blacklist=": joined({ inputFile: true }),
  "-fsanitize-ignorelist=": joined({ inputFile: true }),

  // Options that write files Reprise does not know how to restore, or change their names.
  "-save-temps": joined(unsupported),
  "--save-temps": flag(unsupported),
  "-fdump-": joined(unsupported),
  "-fcallgraph-info": joined(unsupported),
  "-fcompare-debug": joined(unsupported),
  "-dumpbase": separate(unsupported),
  "-dumpbase-ext": separate(unsupported),
  "-dumpdir": separate(unsupported),
  "-dumpmachine": flag(unsupported),
  "-dumpversion": flag(unsupported),
  "-dumpfullversion": flag(unsupported),
  "-dumpspecs": flag(unsupported),
  "-print-": joined(unsupported),
  "--print-": joined(unsupported),
  "-fsyntax-only": flag(unsupported),
  "-fpch-preprocess": flag(unsupported),
  "-fmodules-ts": flag(unsupported),
  "-fmodule-mapper=": joined(unsupported),
  "-fmodule-header": joined(unsupported),

  // Profile feedback reads .gcda/.afdo files the key cannot see.
  "-fprofile-use": joined(profile),
  // Instrumenting reads nothing; the .gcda path it compiles in comes from the -o path, keyed then (collect-arguments).
  "-fprofile-generate": joined(),
  "-fauto-profile": joined(profile),
  "-fbranch-probabilities": flag(profile),
  "-fprofile-instr-": joined(profile),
  "-fprofile-sample-use": joined(profile),
  "-fcs-profile-generate": joined(profile),

  // GCC's long spellings (gcc.cc option_map) of options the parser cares about.
  ...long("--output", "-o"),
  ...long("--language", "-x"),
  ...long("--include-directory", "-I", pp),
  ...long("--define-macro", "-D", pp),
  ...long("--undefine-macro", "-U", pp),
  ...long("--assert", "-A", pp),
  ...long("--include", "-include", pp),
  ...long("--imacros", "-imacros", pp),
  ...long("--include-prefix", "-iprefix", pp),
  ...long("--include-with-prefix", "-iwithprefix", pp),
  ...long("--include-with-prefix-before", "-iwithprefixbefore", pp),
  ...long("--include-with-prefix-after", "-iwithprefix", pp),
  ...long("--include-directory-after", "-idirafter", pp),
  ...long("--library-directory", "-L"),
  ...long("--for-assembler", "-Xassembler"),
  ...long("--for-linker", "-Xlinker"),
  ...long("--force-link", "-u"),
  ...long("--entry", "-e"),
  ...long("--prefix", "-B", unsupported),
  ...long("--dumpbase", "-dumpbase", unsupported),
  ...long("--dumpdir", "-dumpdir", unsupported),
  ...long("--specs", "-specs", { inputFile: true }),
  "--compile": flag({ alias: "-c" }),
  "--assemble": flag({ alias: "-S" }),
  "--preprocess": flag({ alias: "-E" }),
  "--dependencies": flag({ alias: "-M" }),
  "--user-dependencies": flag({ alias: "-MM" }),
  "--write-dependencies": flag({ alias: "-MD" }),
  "--write-user-dependencies": flag({ alias: "-MMD" }),
  "--print-missing-file-dependencies": flag({ alias: "-MG" }),
  "--no-standard-includes": flag({ alias: "-nostdinc", ...pp }),
  "--coverage": flag(),
  "--debug": flag({ alias: "-g" }),
  "--verbose": flag({ alias: "-v", ...unsupported }),
  "--no-line-commands": flag({ alias: "-P" }),
  "--std=": joined(),
  "--pedantic": flag(),
  "--pedantic-errors": flag(),
  "--ansi": flag(),
  "--pipe": flag(),
  "--no-warnings": flag(),
  "--all-warnings": flag(),
  "--extra-warnings": flag(),
  "--trace-includes": flag({ alias: "-H" }),
};

export const gccOptionTable = new OptionTable(gccOptions);

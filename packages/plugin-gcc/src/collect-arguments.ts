import type { NonCacheableReason } from "@reprise/core";
import type { GccLikeDialect, LexedOption } from "./dialect.js";
import type { LexedArg } from "./lex-arguments.js";

/** Options that only steer the dependency file; never passed to the preprocess or scan runs. */
const DEP_OPTIONS = new Set(["-MD", "-MMD", "-MF", "-MT", "-MQ", "-MP", "-MG"]);
/** Dependency options that take a value inside `-Wp,`. */
const WP_DEP_WITH_VALUE = new Set(["-MD", "-MMD", "-MF", "-MT", "-MQ"]);
/** Left out of the preprocess run: `-P` drops line markers and `-d<letter>` changes what `-E` prints. */
const NOT_FOR_PREPROCESS = new Set(["-c", "-S", "-o", "-P", "-dM", "-dD", "-dN", "-dI", "-dU"]);

/** How a lexed argument takes part in the key and in the derived command lines. */
export interface ArgPlan {
  arg: LexedArg;
  /** Tokens for the key; `undefined` leaves the argument out of it. */
  key?: string[];
  /** "preprocessor": left out in preprocessor mode; "output": keyed only when the -o path (or a -MT/-MQ target) reaches an output as is. */
  keyRole?: "preprocessor" | "output";
  /** Replacement for the argument in the preprocess and scan runs; `null` drops it. */
  forPreprocess?: string[] | null;
}

/** What the arguments of one call say, gathered in one pass. */
export interface CallFacts {
  compile: boolean;
  preprocessOnly: boolean;
  assemblyOnly: boolean;
  dependenciesOnly: boolean;
  md: boolean;
  mmd: boolean;
  wpDep?: { mode: "MD" | "MMD"; file: string };
  mf?: string;
  depTarget: boolean;
  /** Driver-form `-MT`/`-MQ` targets in order (`quote`: `-MQ`). */
  depTargets: { value: string; quote: boolean }[];
  output?: string;
  debug: boolean;
  splitDwarf: "split" | "single" | "off";
  gcno: boolean;
  noTestCoverage: boolean;
  coverageFlag: boolean;
  profileArcs: boolean;
  profileNote?: string;
  stackUsage: boolean;
  color?: boolean | "auto";
  /** Inputs with the `-x` language in force where they appear. */
  inputs: { path: string; language?: string }[];
  extraInputFiles: string[];
  forcedIncludes: string[];
  /** The first option that makes the call not cacheable. */
  firstReject?: { reason: NonCacheableReason; detail: string };
}

/** Reads every argument once: the facts of the call, and each argument's place in the key and derived command lines. */
export function collectArguments(args: readonly LexedArg[], dialect: GccLikeDialect): { facts: CallFacts; plans: ArgPlan[] } {
  const facts: CallFacts = {
    compile: false,
    preprocessOnly: false,
    assemblyOnly: false,
    dependenciesOnly: false,
    md: false,
    mmd: false,
    depTarget: false,
    depTargets: [],
    debug: false,
    splitDwarf: "off",
    gcno: false,
    noTestCoverage: false,
    coverageFlag: false,
    profileArcs: false,
    stackUsage: false,
    inputs: [],
    extraInputFiles: [],
    forcedIncludes: [],
  };
  const plans: ArgPlan[] = [];
  let currentLanguage: string | undefined;
  for (const arg of args) {
    if (arg.kind === "input") {
      facts.inputs.push({ path: arg.path, ...(currentLanguage ? { language: currentLanguage } : {}) });
      plans.push({ arg, key: arg.tokens });
      continue;
    }
    if (arg.name === "-x") currentLanguage = arg.value === "none" ? undefined : arg.value;
    plans.push(planOption(arg, facts, dialect));
  }
  return { facts, plans };
}

function noteReject(facts: CallFacts, reason: NonCacheableReason, detail: string): void {
  facts.firstReject ??= { reason, detail };
}

/** Records what one option means and decides its place in the key and in the derived command lines. */
function planOption(arg: LexedOption, facts: CallFacts, dialect: GccLikeDialect): ArgPlan {
  const { name, value = "" } = arg;
  const plan: ArgPlan = { arg, key: arg.tokens };
  if (arg.spec?.notCacheable) noteReject(facts, arg.spec.notCacheable, arg.tokens.join(" "));
  const vetoed = dialect.rejectOption?.(arg);
  if (vetoed) noteReject(facts, vetoed.reason, vetoed.detail);
  if (arg.spec?.preprocessorOnly) plan.keyRole = "preprocessor";
  if (arg.spec?.inputFile && value) facts.extraInputFiles.push(value);
  if (NOT_FOR_PREPROCESS.has(name) || DEP_OPTIONS.has(name)) plan.forPreprocess = null;

  const color = dialect.colorSetting(arg.tokens[0]!);
  if (color !== undefined) facts.color = color;

  switch (name) {
    case "-c":
      facts.compile = true;
      break;
    case "-E":
      facts.preprocessOnly = true;
      break;
    case "-S":
      facts.assemblyOnly = true;
      break;
    case "-M":
    case "-MM":
      facts.dependenciesOnly = true;
      break;
    case "-o":
      facts.output = value;
      plan.keyRole = "output";
      break;
    case "-MD":
      facts.md = true;
      break;
    case "-MMD":
      facts.mmd = true;
      break;
    case "-MF":
      facts.mf = value;
      plan.key = undefined;
      break;
    case "-MT":
    case "-MQ":
      facts.depTarget = true;
      facts.depTargets.push({ value, quote: name === "-MQ" });
      // The target only reaches the dependency file, which a hit rewrites for its own call.
      plan.keyRole = "output";
      break;
    case "-include":
      facts.forcedIncludes.push(value);
      break;
    case "-Wp,":
      return planWp(arg, facts);
    case "-Xpreprocessor":
      if (value.startsWith("-M")) noteReject(facts, "unsupported-option", `-Xpreprocessor ${value}`);
      plan.keyRole = "preprocessor";
      break;
    case "-Wa,":
    case "-Xassembler":
      for (const part of name === "-Wa," ? value.split(",") : [value]) {
        // Listings (-a...=file), dependency output and a second output name write files Reprise does not restore.
        if (/^-a[a-z]*=/.test(part) || part === "--MD" || part === "-o") noteReject(facts, "unsupported-option", `assembler option ${part}`);
      }
      break;
    case "--coverage":
      facts.coverageFlag = true;
      facts.profileArcs = true;
      break;
    case "-ftest-coverage":
      facts.gcno = true;
      facts.noTestCoverage = false;
      break;
    case "-fno-test-coverage":
      facts.noTestCoverage = true;
      break;
    case "-fprofile-arcs":
      facts.profileArcs = true;
      break;
    case "-fno-profile-arcs":
      facts.profileArcs = facts.coverageFlag;
      break;
    case "-fstack-usage":
      facts.stackUsage = true;
      break;
    case "-fno-stack-usage":
      facts.stackUsage = false;
      break;
    default:
      planMisc(name, facts, dialect);
  }
  return plan;
}

function planMisc(name: string, facts: CallFacts, dialect: GccLikeDialect): void {
  if (name.startsWith("-fprofile-note=")) facts.profileNote = name.slice("-fprofile-note=".length);
  // Like -fprofile-arcs (which it implies in GCC), it compiles the absolute .gcda path, made from the -o path, into the object.
  else if (name === "-fprofile-generate") facts.profileArcs = true;
  else if (name.startsWith("-fopt-info") && name.includes("=")) noteReject(facts, "unsupported-option", `${name} writes a file`);
  else if (/^-fdiagnostics-format=.*-file$/.test(name)) noteReject(facts, "unsupported-option", `${name} writes a file`);
  else if (name.startsWith("-g")) planDebug(name, facts, dialect);
}

function planDebug(name: string, facts: CallFacts, dialect: GccLikeDialect): void {
  if (name === "-gsplit-dwarf" || name === "-gsplit-dwarf=split") {
    facts.splitDwarf = "split";
    if (dialect.splitDwarfEnablesDebug) facts.debug = true;
  } else if (name === "-gsplit-dwarf=single") {
    facts.splitDwarf = "single";
  } else if (name === "-gno-split-dwarf") {
    facts.splitDwarf = "off";
  } else if (/^-g(gdb|stabs\+?|xcoff\+?|vms)?0$/.test(name)) {
    facts.debug = false;
  } else if (!name.startsWith("-gno-") && !name.startsWith("-gz")) {
    // Anything else (-g, -g3, -ggdb, -gdwarf-4, -gline-tables-only, -gcolumn-info...) is taken
    // to turn debug info on: at worst the cwd is keyed when it need not be.
    facts.debug = true;
  }
}

/**
 * `-Wp,a,b,c` hands a, b, c to the preprocessor. Dependency options among them
 * (kbuild's `-Wp,-MMD,dir/.x.o.d`) are parsed like their driver forms; the rest
 * is preprocessor-only.
 */
function planWp(arg: LexedOption, facts: CallFacts): ArgPlan {
  const parts = (arg.value ?? "").split(",");
  const other: string[] = [];
  const depKey: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (WP_DEP_WITH_VALUE.has(part)) {
      const v = parts[++i];
      if (v === undefined) {
        noteReject(facts, "unsupported-option", `-Wp,${part} without a value`);
        break;
      }
      if (part === "-MD" || part === "-MMD") {
        facts.wpDep = { mode: part === "-MD" ? "MD" : "MMD", file: v };
        depKey.push(`-Wp,${part}`);
      } else if (part === "-MF") {
        facts.mf = v;
      } else {
        facts.depTarget = true;
        depKey.push(`-Wp,${part},${v}`);
      }
    } else if (part === "-MP" || part === "-MG") {
      depKey.push(`-Wp,${part}`);
    } else if (part === "-M" || part === "-MM") {
      facts.dependenciesOnly = true;
    } else {
      other.push(part);
    }
  }
  const otherToken = other.length ? [`-Wp,${other.join(",")}`] : [];
  const plan: ArgPlan = { arg, forPreprocess: otherToken.length ? otherToken : null };
  if (otherToken.length && !depKey.length) {
    plan.key = otherToken;
    plan.keyRole = "preprocessor";
  } else {
    // Mixed: the dependency part must stay in the key in both modes, so keep it all.
    plan.key = [...otherToken, ...depKey];
  }
  return plan;
}

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { CompileInvocation, DependencyDiscovery, NonCacheableReason, OutputSpec, ParseInput, ParseResult, VolatileMarker } from "@reprise/core";
import { collectArguments, type ArgPlan, type CallFacts } from "./collect-arguments.js";
import type { GccLikeDialect } from "./dialect.js";
import { languageKind, languageOfFile, type LanguageKind } from "./languages.js";
import { lexArguments, type LexedArg } from "./lex-arguments.js";
import { defaultObjectName, replaceSuffix } from "./output-names.js";
import { quoteMakeTarget } from "./dep-target.js";
import { pathRecording } from "./path-recording.js";
import { expandResponseFiles } from "./response-files.js";
import { applyNativeExpansion, isNativeCpuOption, resolveNativeCpu } from "./native-cpu.js";
import { planListing, type CompileListing, type ListingPlan } from "./compile-listing.js";
import { includeSearchArgv } from "./include-search.js";
import { textDialect } from "./text-dialect.js";

/** `node -e` scripts standing in for the preprocessor and the dependency scan of already preprocessed input. */

const reject = (reason: NonCacheableReason, detail?: string): ParseResult => ({ cacheable: false, reason, ...(detail ? { detail } : {}) });

/**
 * Parses a gcc-like compiler call (GCC's driver syntax; clang accepts the
 * same) into a cache plan. `dialect` supplies the option table and the
 * family's differences. See README.md for what is cached and what the key holds.
 */
const INCLUDE_DIR_OPTIONS = new Set(["-I", "-isystem", "-iquote", "-idirafter"]);

export function parseGccLikeArguments(input: ParseInput, dialect: GccLikeDialect): ParseResult {
  const { env, cwd } = input;
  if (env.DEPENDENCIES_OUTPUT !== undefined || env.SUNPRO_DEPENDENCIES !== undefined) {
    return reject("unsupported-option", "DEPENDENCIES_OUTPUT/SUNPRO_DEPENDENCIES make the compiler write an extra file");
  }
  const expanded = expandResponseFiles(input.argv.slice(1), cwd);
  if (!expanded.ok) return reject("response-file", expanded.detail);
  const lexed = lexArguments(expanded.args, dialect.table, { rejectUnknownLongOptions: dialect.rejectUnknownLongOptions });
  if (!lexed.ok) return reject("unsupported-option", lexed.detail);
  const vetoed = dialect.rejectCall?.(lexed.args);
  if (vetoed) return reject(vetoed.reason, vetoed.detail);

  const { facts, plans } = collectArguments(lexed.args, dialect);
  const checked = checkCall(facts, dialect.cxxDriver(input.compiler, lexed.args), cwd);
  if ("reason" in checked) return reject(checked.reason, checked.detail);
  const { source, kind, objectName } = checked;
  const preprocessed = kind === "preprocessed";

  const outputs = planOutputs(facts, objectName, cwd, preprocessed);
  if ("reason" in outputs) return reject(outputs.reason, outputs.detail);
  // An object that records its command line holds the -D/-I values and the -o path: every argument is keyed.
  const recorded = dialect.recordsCommandLine(expanded.args);
  const { key, preprocessorOnly } = keyArguments(plans, outputs.outputPathInKey || recorded, preprocessed || recorded);

  const ttyColor = input.stderrIsTTY && env.TERM !== undefined && env.TERM !== "dumb";
  const colorDiagnostics = typeof facts.color === "boolean" ? facts.color : ttyColor;
  const compileArgv = [...input.argv];
  if (colorDiagnostics && typeof facts.color !== "boolean") {
    // Added arguments would be recorded in the object, which a plain compile's lacks.
    if (recorded) return reject("unsupported-option", "the object records its command line, and colored diagnostics on this terminal need an added option");
    compileArgv.push(...dialect.forceColorArgs);
  }

  const compiler = input.argv[0]!;
  const preprocessBase = [compiler, ...plans.flatMap((p) => (p.forPreprocess === undefined ? p.arg.tokens : (p.forPreprocess ?? [])))];
  let dependencies: DependencyDiscovery;
  let preprocessArgv: string[] | undefined;
  let preprocessDepFile: string | undefined;
  let listing: ListingPlan | undefined;
  if (preprocessed) {
    // Nothing to preprocess and nothing included: the engine uses the file itself.
    dependencies = { none: true };
  } else {
    // -MD beside -E lists every file read (system headers too) without changing the text.
    preprocessDepFile = input.tempPath(".pp.d");
    preprocessArgv = [...preprocessBase, ...dialect.textKeyArgs, "-E", "-MD", "-MF", preprocessDepFile];
    dependencies = planDependencies(outputs.userDep, preprocessBase, compileArgv, input.tempPath, recorded);
    // The read trace also gives each file's identity as the compiler read it (the daemon then stats none): on every miss.
    const how = dependencies.scanArgv ? dialect.compileListing : dialect.identityListing;
    if (how) listing = listInCompile(dependencies, input, expanded.args, how, recorded);
  }

  const includeDirs = lexed.args.flatMap((a) =>
    a.kind === "option" && INCLUDE_DIR_OPTIONS.has(a.name) && a.value ? [resolve(cwd, a.value)] : [],
  );
  const closureDepFile = input.tempPath(".closure.d");
  // The same arguments as the lookup's preprocessing (-E -MD) and the dependency scan (-M): the same list.
  // With GCC's read trace the scan also gives each file's identity as cc1 read it: a job then stats none of them.
  const scanListFile = listing?.listEnv?.REPRISE_READ_TRACE !== undefined ? input.tempPath(".closure.reads") : undefined;
  const scanListing = scanListFile ? { setEnv: { ...listing!.listEnv, REPRISE_READ_TRACE: scanListFile }, listFile: scanListFile } : {};
  const closureScan = preprocessed
    ? undefined
    : { argv: [...preprocessBase, "-M", "-MF", closureDepFile], depFile: closureDepFile, sameAsPreprocessDeps: true, sameAsDependencyScan: true, ...scanListing };

  const volatileMarkers: VolatileMarker[] = [{ token: ".incbin", effect: "uncacheable" }];
  if (!preprocessed) volatileMarkers.push(...dialect.timeMarkers(env, input.compiler));
  if (source.language === "assembler-with-cpp") volatileMarkers.push({ token: ".include", effect: "uncacheable" });

  const loadsCode = codeLoading(lexed.args, env, dialect);
  const invocation: CompileInvocation = {
    language: source.language,
    sourceFile: resolve(cwd, source.path),
    outputs: outputs.list,
    keyArgs: key,
    preprocessorOnlyArgs: preprocessorOnly,
    compileArgv,
    preprocessArgv,
    ...(preprocessDepFile ? { preprocessDepFile } : {}),
    dependencies,
    ...(closureScan ? { closureScan, includeDirs } : {}),
    ...(preprocessed ? {} : { includeSearchArgv: includeSearchArgv(preprocessOptions(compiler, plans), source.language) }),
    keyEnv: dialect.keyEnv(colorDiagnostics),
    jobEnv: dialect.jobEnv,
    ...withLoadsCode(loadsCode),
    volatileMarkers,
    dependsOnCwd: facts.debug || outputs.coverage,
    pathRecording: pathRecording(expanded.args, { debug: facts.debug, coverage: outputs.coverage }),
    // Debug info records what the preprocessed text lacks (clang's DWARF 5 file MD5s, macros of -g3); coverage notes checksum the source;
    // code the compiler loads (-fplugin=) may read anything, and preprocessing for the fallback key would run it once more.
    ...(preprocessed || facts.debug || outputs.coverage || loadsCode.length ? {} : { preprocessedDeterminesOutputs: true }),
    colorDiagnostics,
    extraInputFiles: facts.extraInputFiles.map((f) => resolve(cwd, f)),
  };
  // Comments blanked, the text gives the same tokens: where the preprocessed text determines the outputs, so does it.
  const textRead = invocation.preprocessedDeterminesOutputs ? textDialect(source.language, expanded.args) : undefined;
  if (textRead) invocation.textDigest = { dialect: textRead };
  if (expanded.args.some(isNativeCpuOption)) {
    const native = resolveNativeCpu(input.compiler, expanded.args.filter(isNativeCpuOption), dialect.nativeCpu.resolver, env);
    // A key that did not name the CPU would serve one machine's objects to another.
    if (typeof native === "string") return reject("unsupported-option", `cannot resolve the native CPU: ${native}`);
    invocation.keyArgs = applyNativeExpansion(invocation.keyArgs, native);
    invocation.jobArgv = [compileArgv[0]!, ...applyNativeExpansion(compileArgv.slice(1), native)];
    const unportable = dialect.nativeCpu.unportable(expanded.args, facts.debug);
    if (unportable) invocation.unportable = unportable;
  }
  if (listing?.compileArgs) {
    // A job elsewhere runs without them: the list file is this machine's.
    invocation.jobArgv ??= [...compileArgv];
    compileArgv.push(...listing.compileArgs);
  }
  return { cacheable: true, invocation };
}

/** The preprocessing options of the call, without its inputs (`preprocessBase` less the source). */
function preprocessOptions(compiler: string, plans: readonly ArgPlan[]): string[] {
  return [compiler, ...plans.flatMap((p) => (p.arg.kind === "input" ? [] : p.forPreprocess === undefined ? p.arg.tokens : (p.forPreprocess ?? [])))];
}

type Rejection = { reason: NonCacheableReason; detail?: string };

const withLoadsCode = (found: string[]) => (found.length ? { loadsCode: found } : {});

/** Options that pass their value on to the preprocessor or cc1, where a code-loading option may hide. */
const PASS_ON = new Set(["-Wp,", "-Xpreprocessor", "-Xclang"]);

/** The arguments and variables of this call that make the compiler load or run code they name (`CompileInvocation.loadsCode`). */
function codeLoading(args: readonly LexedArg[], env: Readonly<Record<string, string>>, dialect: GccLikeDialect): string[] {
  const found: string[] = [];
  const loads = (s: string) => dialect.codeLoadingOptions.some((p) => s.startsWith(p));
  for (const a of args) {
    if (a.kind !== "option") continue;
    const passed = PASS_ON.has(a.name) ? (a.name === "-Wp," ? (a.value ?? "").split(",") : [a.value ?? ""]) : [];
    if (loads(a.tokens[0]!) || passed.some(loads)) found.push(a.tokens.join(" "));
  }
  for (const name of dialect.codeLoadingEnv) if (env[name]) found.push(`${name}=${env[name]}`);
  return found;
}

/** Whether the call is a cacheable compile of one source, and of which. */
function checkCall(
  facts: CallFacts,
  cxx: boolean,
  cwd: string,
): Rejection | { source: { path: string; language: string }; kind: LanguageKind; objectName: string } {
  // What kind of call this is comes first: `gcc a.c b.c -o prog` and a link
  // line with -fprofile-use are both "linking".
  if (facts.dependenciesOnly) return { reason: "dependencies-only" };
  if (facts.preprocessOnly) return { reason: "preprocess-only" };
  if (!facts.compile && !facts.assemblyOnly) return { reason: "linking" };
  if (facts.firstReject) return facts.firstReject;

  if (facts.inputs.some((i) => i.path === "-")) return { reason: "stdin-source" };
  const classified = facts.inputs.map((i) => ({ path: i.path, language: i.language ?? languageOfFile(i.path, cxx) }));
  const sources = classified.filter((i): i is { path: string; language: string } => i.language !== undefined);
  if (sources.length > 1) return { reason: "multiple-sources", detail: sources.map((s) => s.path).join(" ") };
  const source = sources[0];
  if (!source) {
    const names = facts.inputs.map((i) => i.path).join(" ");
    return names ? { reason: "unsupported-language", detail: `no input of a known language: ${names}` } : { reason: "no-source" };
  }
  const kind = languageKind(source.language);
  if (kind === "header") return { reason: "unsupported-language", detail: `${source.language}: precompiled headers are not cached` };
  if (kind === "assembler") return { reason: "unsupported-language", detail: "plain assembler: .include/.incbin read files no dependency list names" };
  if (kind === "unsupported") return { reason: "unsupported-language", detail: source.language };

  if (facts.output === "-") return { reason: "output-to-stdout" };
  // -S stops before assembling (it wins over -c): the output is assembly text, named .s by default.
  const objectName = facts.output ?? defaultObjectName(source.path, facts.assemblyOnly ? ".s" : ".o");
  if (isDevicePath(resolve(cwd, objectName))) return { reason: "unsupported-option", detail: `output to ${objectName}` };
  for (const inc of facts.forcedIncludes) {
    // GCC 12 leaves a PCH out of its dependency output, and -E reads the header instead.
    const base = resolve(cwd, inc);
    if (existsSync(`${base}.gch`) || existsSync(`${base}.pch`)) return { reason: "unsupported-option", detail: `-include ${inc} would use a precompiled header` };
  }
  if (facts.wpDep && (facts.md || facts.mmd)) return { reason: "unsupported-option", detail: "both -Wp,-M(M)D and -M(M)D" };
  return { source, kind, objectName };
}

interface OutputPlan {
  list: OutputSpec[];
  /** The dependency file the user asked for, if the compile writes one. */
  userDep?: { mode: "MD" | "MMD"; path: string };
  coverage: boolean;
  outputPathInKey: boolean;
}

/** The files the compile writes, named as GCC 12 and clang 14 name them (see `replaceSuffix`). */
function planOutputs(facts: CallFacts, objectName: string, cwd: string, preprocessed: boolean): OutputPlan | Rejection {
  const list: OutputSpec[] = [{ role: "object", path: resolve(cwd, objectName) }];
  // Preprocessed input never goes through the preprocessor, which is what writes the dependency file.
  const mode = preprocessed ? undefined : (facts.wpDep?.mode ?? (facts.mmd ? "MMD" : facts.md ? "MD" : undefined));
  let userDep: OutputPlan["userDep"];
  if (mode) {
    const path = resolve(cwd, facts.wpDep?.file ?? facts.mf ?? replaceSuffix(objectName, ".d"));
    if (isDevicePath(path)) return { reason: "unsupported-option", detail: `dependency file ${path}` };
    userDep = { mode, path };
    list.push({ role: "dep", path, ...(facts.wpDep ? {} : { adapt: { depTargets: printedDepTargets(facts, objectName) } }) });
  }
  // Optional: whether these appear also depends on the -g level, -flto and the like.
  if (facts.splitDwarf === "split") list.push({ role: "dwo", path: resolve(cwd, replaceSuffix(objectName, ".dwo")), optional: true });
  const gcno = facts.coverageFlag || (facts.gcno && !facts.noTestCoverage);
  if (gcno) list.push({ role: "gcno", path: resolve(cwd, facts.profileNote ?? replaceSuffix(objectName, ".gcno")), optional: true });
  if (facts.stackUsage) list.push({ role: "su", path: resolve(cwd, replaceSuffix(objectName, ".su")), optional: true });
  // The -o path reaches the outputs through the .dwo name recorded in the
  // object and the .gcda path compiled into it; the dependency file's target
  // is rewritten on a hit (`adaptOutput`), except after `-Wp,-MD`, where cc1
  // picks the target itself.
  const depTargetAsIs = userDep !== undefined && facts.wpDep !== undefined;
  const outputPathInKey = depTargetAsIs || facts.splitDwarf === "split" || gcno || facts.profileArcs;
  return { list, ...(userDep ? { userDep } : {}), coverage: gcno || facts.profileArcs, outputPathInKey };
}

/** The first rule's targets as the compiler prints them: `-MT` as given, `-MQ` quoted, else the object name quoted (the drivers pass `-MQ <object>`). */
function printedDepTargets(facts: CallFacts, objectName: string): string[] {
  if (facts.depTargets.length) return facts.depTargets.map((t) => (t.quote ? quoteMakeTarget(t.value) : t.value));
  return [quoteMakeTarget(objectName)];
}

function keyArguments(plans: readonly ArgPlan[], outputPathInKey: boolean, preprocessed: boolean): { key: string[]; preprocessorOnly: string[] } {
  const key: string[] = [];
  const preprocessorOnly: string[] = [];
  for (const plan of plans) {
    if (!plan.key) continue;
    if (plan.keyRole === "output" && !outputPathInKey) continue;
    key.push(...plan.key);
    // Preprocessed input ignores -D and -I, so they must not be dropped from its key either.
    if (plan.keyRole === "preprocessor" && !preprocessed) preprocessorOnly.push(...plan.key);
  }
  return { key, preprocessorOnly };
}

/** Where direct mode learns the include list; may add a temporary dependency file to `compileArgv`. */
function planDependencies(
  userDep: OutputPlan["userDep"],
  preprocessBase: readonly string[],
  compileArgv: string[],
  tempPath: (suffix: string) => string,
  argvRecorded: boolean,
): DependencyDiscovery {
  if (userDep?.mode === "MD") return { depFile: userDep.path };
  if (userDep?.mode === "MMD") {
    // -MMD leaves system headers out; direct mode needs them all.
    const scanDepFile = tempPath(".d");
    return { depFile: userDep.path, scanArgv: [...preprocessBase, "-M", "-MF", scanDepFile], scanDepFile };
  }
  if (argvRecorded) {
    // The object records its command line: a dependency file added to it would show; scan beside the compile instead.
    const scanDepFile = tempPath(".d");
    return { scanArgv: [...preprocessBase, "-M", "-MF", scanDepFile], scanDepFile };
  }
  const depFile = tempPath(".d");
  compileArgv.push("-MD", "-MF", depFile);
  return { depFile, depFileIsTemporary: true };
}

/**
 * Lets the compile list what it read itself (compile-listing.ts): where a
 * scan would run beside it, so that it need not (the scan stays as the
 * fallback), and with GCC's read trace on every miss, for the identities.
 * Not when the object records its command line and the listing needs added
 * arguments.
 */
function listInCompile(deps: DependencyDiscovery, input: ParseInput, args: readonly string[], how: CompileListing, argvRecorded: boolean): ListingPlan | undefined {
  const plan = planListing(how, input, args);
  if (!plan || (plan.compileArgs && argvRecorded)) return undefined;
  deps.listFile = plan.listFile;
  if (plan.listEnv) deps.listEnv = plan.listEnv;
  return plan;
}

function isDevicePath(path: string): boolean {
  return path.startsWith("/dev/");
}

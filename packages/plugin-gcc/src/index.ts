import type { ReprisePlugin } from "@reprise/core";
import { detectGcc } from "./detect.js";
import { gccDialect } from "./dialect.js";
import { parseGccLikeArguments } from "./parse-arguments.js";
import { adaptGccLikeOutput } from "./adapt-output.js";
import { listFromReadTrace } from "./compile-listing.js";
import { gccToolchainSpec, toolchainPlatforms } from "./toolchain.js";
import { gccPortableToolchain } from "./portable.js";
import { parseIncludeSearch } from "./include-search.js";
import { predictIncludes } from "./predict-includes.js";
import { commentBlindText, type TextDialect } from "./comment-blind-text.js";

export const PLUGIN_NAME = "@reprise/plugin-gcc";

/** GCC (gcc, g++, cc, c++, cross drivers): detection as family "gcc", argument parsing, toolchain packaging. */
export const gccPlugin: ReprisePlugin = {
  name: PLUGIN_NAME,
  apply(engine) {
    engine.hooks.detectCompiler.tapPromise(PLUGIN_NAME, (probe) => detectGcc(probe));
    engine.hooks.parseArguments.for("gcc").tap(PLUGIN_NAME, (input) => parseGccLikeArguments(input, gccDialect));
    engine.hooks.adaptOutput.for("gcc").tap(PLUGIN_NAME, (input) => adaptGccLikeOutput(input, gccDialect));
    engine.hooks.listDependencies.for("gcc").tap(PLUGIN_NAME, (input) => listFromReadTrace(input));
    engine.hooks.includeSearch.for("gcc").tap(PLUGIN_NAME, (output) => parseIncludeSearch(output));
    engine.hooks.predictReads.for("gcc").tap(PLUGIN_NAME, (input) => predictIncludes(input));
    engine.hooks.textDigest.for("gcc").tap(PLUGIN_NAME, ({ data, dialect }) => commentBlindText(data, dialect as TextDialect));
    engine.hooks.packageToolchain.tapPromise(PLUGIN_NAME, async (compiler) => (compiler.family === "gcc" ? gccToolchainSpec(compiler) : undefined));
    engine.hooks.resolveArchitecture.tapPromise(PLUGIN_NAME, async ({ toolchain }) => (toolchain?.family === "gcc" ? toolchainPlatforms(toolchain) : undefined));
    engine.hooks.portableToolchain.tapPromise(PLUGIN_NAME, async ({ compiler, target }) => (compiler.family === "gcc" ? gccPortableToolchain(compiler, target) : undefined));
  },
};

export default gccPlugin;

export { detectGcc, isCxxDriver } from "./detect.js";
export { gccDialect, GCC_JOB_ENV, LOADER_ENV, TIME_MARKERS, type GccLikeDialect, type LexedOption } from "./dialect.js";
export { parseGccLikeArguments } from "./parse-arguments.js";
export { commentBlindText, type CommentBlindText, type TextDialect } from "./comment-blind-text.js";
export { textDialect } from "./text-dialect.js";
export { includeSearchArgv, parseIncludeSearch } from "./include-search.js";
export { predictIncludes, parseDirectives, PredictionMemo } from "./predict-includes.js";
export { adaptGccLikeOutput } from "./adapt-output.js";
export { listForClang, listFromDependencyDot, listFromReadTrace, planListing, type CompileListing, type ListingPlan } from "./compile-listing.js";
export { readTraceLibrary, readTraceWorks } from "./read-trace.js";
export { gccRuleLayout, clangRuleLayout, quoteMakeTarget, rewriteDepTargets, parseFirstRule, type DepRuleLayout } from "./dep-target.js";
export { OptionTable, gccOptions, gccOptionTable, optionSpec, type OptionArity, type OptionEntries, type OptionMatch, type OptionSpec } from "./option-table.js";
export { lexArguments, type LexedArg, type LexOptions, type LexResult } from "./lex-arguments.js";
export { expandResponseFiles, splitResponseFile, type ExpandResult } from "./response-files.js";
export { languageKind, languageOfFile, type LanguageKind } from "./languages.js";
export { replaceSuffix, defaultObjectName } from "./output-names.js";
export { gccToolchainSpec, toolchainPlatforms, toolchainSpecOf, findProgram, localRunner, type CompilerRunner, type ToolchainOptions } from "./toolchain.js";
export { applyNativeExpansion, clangNativeResolver, gccNativeResolver, isNativeCpuOption, resolveNativeCpu, type NativeCpuResolver, type NativeExpansion } from "./native-cpu.js";
export { canaryDigest, gccPortableToolchain, gccVersionLine, includeSearchDirectories } from "./portable.js";

import type { ReprisePlugin } from "@reprise/core";
import { adaptGccLikeOutput, commentBlindText, listForClang, parseGccLikeArguments, parseIncludeSearch, predictIncludes, type TextDialect } from "@reprise/plugin-gcc";
import { detectClang } from "./detect.js";
import { clangDialect } from "./dialect.js";
import { clangToolchainPlatforms, clangToolchainSpec } from "./toolchain.js";
import { clangPortableToolchain } from "./portable.js";

export const PLUGIN_NAME = "@reprise/plugin-clang";

/** Clang (clang, clang++, clang-N, Apple clang): detection as family "clang", argument parsing, toolchain packaging. */
export const clangPlugin: ReprisePlugin = {
  name: PLUGIN_NAME,
  apply(engine) {
    engine.hooks.detectCompiler.tapPromise(PLUGIN_NAME, (probe) => detectClang(probe));
    engine.hooks.parseArguments.for("clang").tap(PLUGIN_NAME, (input) => parseGccLikeArguments(input, clangDialect));
    engine.hooks.adaptOutput.for("clang").tap(PLUGIN_NAME, (input) => adaptGccLikeOutput(input, clangDialect));
    engine.hooks.listDependencies.for("clang").tap(PLUGIN_NAME, (input) => listForClang(input));
    // clang reports its include search in gcc's words.
    engine.hooks.includeSearch.for("clang").tap(PLUGIN_NAME, (output) => parseIncludeSearch(output));
    // The same directives and search order as gcc.
    engine.hooks.predictReads.for("clang").tap(PLUGIN_NAME, (input) => predictIncludes(input));
    // The same C-family lexer: clang reads comments as gcc does.
    engine.hooks.textDigest.for("clang").tap(PLUGIN_NAME, ({ data, dialect }) => commentBlindText(data, dialect as TextDialect));
    engine.hooks.packageToolchain.tapPromise(PLUGIN_NAME, async (compiler) => (compiler.family === "clang" ? clangToolchainSpec(compiler) : undefined));
    engine.hooks.resolveArchitecture.tapPromise(PLUGIN_NAME, async ({ toolchain }) => (toolchain?.family === "clang" ? clangToolchainPlatforms(toolchain) : undefined));
    // Across architectures: a builder holding the same clang build for another host takes the job with --target.
    engine.hooks.portableToolchain.tapPromise(PLUGIN_NAME, async ({ compiler, target }) => (compiler.family === "clang" ? clangPortableToolchain(compiler, target) : undefined));
  },
};

export default clangPlugin;

export { detectClang, isClangCxxName } from "./detect.js";
export { clangDialect } from "./dialect.js";
export { clangOptions, clangOptionTable } from "./option-table.js";
export { clangToolchainSpec, clangToolchainPlatforms, gccInstallationFiles } from "./toolchain.js";
export { clangPortableToolchain, clangEquivalence, hostIndependentVersion } from "./portable.js";

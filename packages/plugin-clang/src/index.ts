import type { ReprisePlugin } from "@reprise/core";
import { parseGccLikeArguments } from "@reprise/plugin-gcc";
import { detectClang } from "./detect.js";
import { clangDialect } from "./dialect.js";

export const PLUGIN_NAME = "@reprise/plugin-clang";

/** Clang (clang, clang++, clang-N, Apple clang): detection as family "clang" and argument parsing. */
export const clangPlugin: ReprisePlugin = {
  name: PLUGIN_NAME,
  apply(engine) {
    engine.hooks.detectCompiler.tapPromise(PLUGIN_NAME, (probe) => detectClang(probe));
    engine.hooks.parseArguments.for("clang").tap(PLUGIN_NAME, (input) => parseGccLikeArguments(input, clangDialect));
  },
};

export default clangPlugin;

export { detectClang, isClangCxxName } from "./detect.js";
export { clangDialect } from "./dialect.js";
export { clangOptions, clangOptionTable } from "./option-table.js";

import type { TextDialect } from "./comment-blind-text.js";

const LANGUAGES = new Set(["c", "c++", "objective-c", "objective-c++"]);

/** Options under which comments, or the exact spacing, reach the compile (or `//` is no comment). */
const COMMENT_READING = [
  /^-C$/,
  /^-CC$/,
  /^-traditional(-cpp)?$/,
  /^-fdirectives-only$/,
  /^-Wp,/,
  /^-Xpreprocessor$/,
  /^-W(error=)?documentation/, // clang reads doc comments
  /^-Weverything$/,
  /^-W(error=)?(trailing|leading)-whitespace/,
  /^-Wimplicit-fallthrough=1$/, // any comment silences the warning (other levels read only "fall…" comments, kept as they are)
  /^-ansi$/,
  /^-std=(c89|c90|iso9899:199(0|409))$/, // no `//` comments
];

/** C++ standards before C++14: a `'` after a number is no digit separator. */
const OLD_CXX = /^(c|gnu)\+\+(98|03|0x|11)$/;

/**
 * The dialect the compile's files are read in for their text digests
 * (`textDigest` hook), or undefined when comments may matter to this call.
 */
export function textDialect(language: string, args: readonly string[]): TextDialect | undefined {
  if (!LANGUAGES.has(language)) return undefined;
  if (args.some((a) => COMMENT_READING.some((re) => re.test(a)))) return undefined;
  if (!language.endsWith("++")) return "c";
  const std = args.filter((a) => a.startsWith("-std=")).at(-1)?.slice(5);
  return std !== undefined && OLD_CXX.test(std) ? "c" : "c++";
}

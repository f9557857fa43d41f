import type { PathRecording } from "@reprise/core";

/** Tokens whose expansion is the path of the file they appear in (clang and GCC 12; `__builtin_FILE` is what `std::source_location` uses). */
const FILE_TOKENS = ["__FILE__", "__BASE_FILE__", "__builtin_FILE"];

/**
 * What of a call's paths its outputs record, with the prefixes the call maps
 * away: `-fdebug-prefix-map` (debug info), `-fmacro-prefix-map` (`__FILE__`),
 * `-ffile-prefix-map` (both). Only absolute old prefixes count: the paths a
 * base directory holds are absolute.
 */
export function pathRecording(args: readonly string[], facts: { debug: boolean; coverage: boolean }): PathRecording {
  const debugMaps: string[] = [];
  const macroMaps: string[] = [];
  // LTO objects carry source locations in compressed (gcc) or bitcode (clang) sections no output scan reads.
  let lto = false;
  for (const a of args) {
    if (a === "-flto" || a.startsWith("-flto=")) lto = true;
    else if (a === "-fno-lto") lto = false;
    const m = /^-f(debug|macro|file)-prefix-map=([^=]*)=/.exec(a);
    if (!m || !m[2]!.startsWith("/")) continue;
    if (m[1] !== "macro") debugMaps.push(m[2]!);
    if (m[1] !== "debug") macroMaps.push(m[2]!);
  }
  return { debugInfo: facts.debug, debugMaps, fileTokens: FILE_TOKENS, macroMaps, unmappable: facts.coverage || lto };
}

import type { CompileInvocation, CompileRequest, CompilerInfo } from "../engine/types.js";

/** One file a compile read, as a key saw it. */
export interface DescribedFile {
  path: string;
  hash: string;
}

/**
 * What a cache key was made of, in a form a person can read: recorded beside
 * the cache when an entry is stored, computed again by `reprise --explain`,
 * and compared to tell which input made a call miss.
 */
export interface KeyDescription {
  source: string;
  sourceHash: string;
  compilerPath: string;
  compilerIdentity: string;
  family: string;
  language: string;
  mode: "direct" | "preprocessor";
  /** The arguments in the key, as the plugin normalised them. */
  args: string[];
  /** Values of the variables in the key; null when unset. */
  env: Record<string, string | null>;
  cwd: string;
  colorDiagnostics: boolean;
  extraInputs: DescribedFile[];
  /** The direct-mode manifest and the entry in it; its include list is read from there by `--explain`, not copied here. */
  manifestKey?: string;
  resultKey?: string;
  /** The files the compile read besides the source (direct mode): filled from the manifest when explaining. */
  headers?: DescribedFile[];
  /** Paths the entry needed absent that exist now (a header that would shadow one it read, or a probe would find). */
  appeared?: string[];
  /** Variables the dependency file named (e.g. SOURCE_DATE_EPOCH for rustc), with their values. */
  depEnv?: { name: string; value: string | null }[];
  /** The day the entry is keyed by, when a date macro made it matter. */
  date?: string;
  recordedAt: number;
}

/** The key's inputs of a call, without what only a finished compile knows (headers, dependency-file env). */
export function describeCall(
  request: CompileRequest,
  compilerPath: string,
  compiler: CompilerInfo,
  inv: CompileInvocation,
  mode: "direct" | "preprocessor",
  sourceHash: string,
  extraInputs: DescribedFile[],
): KeyDescription {
  const env: Record<string, string | null> = {};
  for (const name of inv.keyEnv) env[name] = request.env[name] ?? null;
  return {
    source: inv.sourceFile,
    sourceHash,
    compilerPath,
    compilerIdentity: compiler.identity,
    family: compiler.family,
    language: inv.language,
    mode,
    args: inv.keyArgs,
    env,
    cwd: request.cwd,
    colorDiagnostics: inv.colorDiagnostics,
    extraInputs,
    recordedAt: Date.now(),
  };
}

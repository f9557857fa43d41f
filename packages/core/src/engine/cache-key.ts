import { KeyHasher } from "../hashing/key-hasher.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { Engine } from "./engine.js";
import type { CompileInvocation, CompileRequest, CompilerInfo } from "./types.js";
import type { PathSharing } from "./base-dirs.js";

/** Bump when the meaning of a key changes, so old entries are never misread. */
export const KEY_FORMAT = "reprise-key-3";

/**
 * The part of a key common to both modes: compiler identity, arguments,
 * environment, working directory (when it reaches the outputs), color, extra
 * inputs, then whatever plugins add in `extendKey`.
 */
export async function baseKey(
  engine: Engine,
  hashes: FileHashCache,
  request: CompileRequest,
  compiler: CompilerInfo,
  inv: CompileInvocation,
  mode: "direct" | "preprocessor",
  sharing?: PathSharing,
): Promise<KeyHasher> {
  const args = mode === "direct" ? inv.keyArgs : withoutSubsequence(inv.keyArgs, inv.preprocessorOnlyArgs);
  const h = new KeyHasher()
    .add("format", KEY_FORMAT)
    .add("mode", mode)
    .add("compiler", compiler.identity)
    .add("family", compiler.family)
    .add("language", inv.language)
    .addList("args", sharing ? args.map((a) => sharing.argument(a)) : args)
    .add("color", inv.colorDiagnostics);
  // Under a base directory, paths in keyed variables are keyed relative to it, as in arguments (a value the compile reads in a
  // way the plugin cannot rule out of the outputs binds the entry through `pathRecording`; dep-file reads are keyed as they are).
  for (const name of inv.keyEnv) {
    const value = request.env[name];
    h.add(`env:${name}`, value === undefined ? "\0unset" : sharing ? sharing.argument(value) : value);
  }
  if (sharing?.relocates) h.add("relocated", true);
  if (mode === "direct" || inv.dependsOnCwd) h.add("cwd", sharing ? sharing.relative(request.cwd) : request.cwd);
  for (const file of inv.extraInputFiles) {
    const digest = await hashes.digest(file);
    h.add("extra", sharing ? sharing.relative(file) : file).add("extraHash", digest?.hash ?? "missing");
  }
  const digestFile = async (path: string) => (await hashes.digest(path))?.hash;
  await engine.hooks.extendKey.promise(h, { request, compiler, invocation: inv, mode, digestFile });
  return h;
}

/** `all` without the elements of `remove`, which is an ordered subsequence of it. */
function withoutSubsequence(all: readonly string[], remove: readonly string[]): string[] {
  const out: string[] = [];
  let j = 0;
  for (const a of all) {
    if (j < remove.length && a === remove[j]) j++;
    else out.push(a);
  }
  return out;
}

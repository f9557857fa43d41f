import type { Engine } from "./engine.js";
import type { CompileInvocation, CompilerInfo, OutputSpec } from "./types.js";

/** Turns an entry's stored bytes of one output into what this call writes; undefined when they cannot be. */
export type OutputAdapter = (output: OutputSpec, data: Buffer) => Buffer | undefined;

/**
 * The adapter of one call: outputs not marked `adapt` pass through as
 * stored; marked ones go to the family's `adaptOutput` hook. A hook that
 * returns nothing (or is missing) means the output cannot be adapted. A
 * tap that throws or returns what its guard rejects raises a PluginError,
 * as every hook does: the call then compiles as if Reprise were not there.
 */
export function outputAdapter(engine: Engine, compiler: CompilerInfo, invocation: CompileInvocation): OutputAdapter {
  return (output, data) => {
    if (!output.adapt) return data;
    return engine.hooks.adaptOutput.get(compiler.family)?.call({ output, data, invocation, compiler }) ?? undefined;
  };
}

/**
 * Whether each output of a fresh compile comes back unchanged through the
 * adapter for its own call: an entry whose outputs the plugin cannot lay out
 * again exactly is not stored, so no hit can get them wrong.
 */
export function adaptsToItself(adapter: OutputAdapter, specs: readonly OutputSpec[], outputs: readonly { role: string; data: Buffer }[]): boolean {
  for (const spec of specs) {
    if (!spec.adapt) continue;
    const data = outputs.find((o) => o.role === spec.role)?.data;
    if (!data) continue;
    const again = adapter(spec, data);
    if (!again || !again.equals(data)) return false;
  }
  return true;
}

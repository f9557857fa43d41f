import { readFileSync } from "node:fs";
import type { Engine } from "./engine.js";
import type { CompileInvocation } from "./types.js";
import { depTextOf } from "./dep-file.js";

function readOrUndefined(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * The files a successful miss read, as its own compile listed them in
 * `dependencies.listFile` (through the family's `listDependencies` hook), as
 * dependency text; null when the compile's list cannot tell (not written,
 * incomplete, no tap), and a separate scan must run.
 */
export function listedByCompile(engine: Engine, family: string, inv: CompileInvocation, cwd: string): string | null {
  const deps = inv.dependencies;
  const hook = engine.hooks.listDependencies.get(family);
  if (!deps.listFile || !hook) return null;
  const listed = readOrUndefined(deps.listFile);
  const depText = readOrUndefined(deps.depFile);
  const files = hook.call({ invocation: inv, cwd, listed, depText });
  return files ? (depTextOf(files) ?? null) : null;
}

import { readFileSync } from "node:fs";
import type { Engine } from "./engine.js";
import type { CompileInvocation } from "./types.js";
import type { DependencyListInput, ReadIdentity } from "./hooks.js";
import { depTextOf } from "./dep-file.js";

function readOrUndefined(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** What a miss's own compile told of the files it read. */
export interface ListedReads {
  /** Every file it read, as dependency text; undefined when the dependency file or a scan must tell. */
  depText?: string;
  /** The identity the compile took of each file it read, by absolute path. */
  identities?: ReadonlyMap<string, ReadIdentity>;
}

/**
 * What a successful miss read, as its own compile listed it in
 * `dependencies.listFile` (through the family's `listDependencies` hook):
 * the files as dependency text, and their identities as the compile saw
 * them. Null when the compile's list cannot tell (not written, incomplete,
 * no tap); without `depText` a separate scan must run when there is one.
 */
export function listedByCompile(engine: Engine, family: string, inv: CompileInvocation, cwd: string): ListedReads | null {
  const deps = inv.dependencies;
  const hook = engine.hooks.listDependencies.get(family);
  if (!deps.listFile || !hook) return null;
  const listed = readOrUndefined(deps.listFile);
  const depText = readOrUndefined(deps.depFile);
  const reads = hook.call({ invocation: inv, cwd, listed, depText });
  if (!reads) return null;
  const files = Array.isArray(reads) ? reads : reads.files;
  const text = files ? depTextOf(files) : undefined;
  const identities = Array.isArray(reads) ? undefined : reads.identities;
  return { ...(text !== undefined ? { depText: text } : {}), ...(identities ? { identities } : {}) };
}

/**
 * The identities a closure scan's list gives (ClosureScan.listFile), read by
 * the family's `listDependencies` tap: for `buildJob`'s `readIdentities`.
 * Undefined when the family has no tap.
 */
export function identitiesFromList(engine: Engine, family: string): ((input: DependencyListInput) => ReadonlyMap<string, ReadIdentity> | undefined) | undefined {
  const hook = engine.hooks.listDependencies.get(family);
  if (!hook) return undefined;
  return (input) => {
    const reads = hook.call(input);
    return reads && !Array.isArray(reads) ? reads.identities : undefined;
  };
}

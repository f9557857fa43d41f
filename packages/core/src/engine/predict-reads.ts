import { isAbsolute } from "node:path";
import type { Call } from "./call.js";
import type { ModeDeps } from "./mode-deps.js";

/**
 * MissContext.predictReads: the family's `predictReads` tap on the call's
 * include search. Undefined when there is no tap, no include search, or
 * the tap cannot say; a tap that throws or answers anything but absolute
 * paths is taken as no prediction (the caller then scans).
 */
export async function predictReads(d: Pick<ModeDeps, "searches">, call: Call): Promise<string[] | undefined> {
  const hook = call.project.engine.hooks.predictReads.get(call.compiler.family);
  if (!hook?.isUsed()) return undefined;
  const answer = await d.searches.for(call);
  if (!("search" in answer)) return undefined;
  try {
    const files = hook.call({ invocation: call.inv, cwd: call.request.cwd, search: answer.search });
    if (!Array.isArray(files) || !files.every((f) => typeof f === "string" && isAbsolute(f))) return undefined;
    return files;
  } catch (err) {
    call.log.warn("%s: predicting what the compile reads failed: %s", call.inv.sourceFile, (err as Error).message);
    return undefined;
  }
}

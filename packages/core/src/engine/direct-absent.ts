import { basename } from "node:path";
import type { Call } from "./call.js";
import type { ModeDeps } from "./mode-deps.js";
import { absentPaths, type AbsentPlan } from "./absent-paths.js";
import { forStore, sinceNsOf } from "./absent-plan.js";
import type { ClosureCheck, ClosureCheckInput, IncludeSearch } from "./hooks.js";
import { quotedIncludes } from "./quoted-includes.js";
import { changedSince } from "./fallback-timing.js";
import { probedNames } from "../hermetic/has-include.js";
import type { AbsentGuard, ManifestEntry } from "../storage/codec.js";

export interface AbsentFacts {
  /** Where no file may appear (absent-paths.ts). */
  guards: AbsentGuard[];
  /** Files a `__has_include` probe finds, recorded with the files read. */
  probeFiles: ManifestEntry["files"];
  /** A probe's argument is a macro: direct mode cannot tell what it asks, and the call uses preprocessor mode. */
  unresolvableProbe?: string;
}

/**
 * What a direct-mode entry needs besides the files read, so that no header
 * created later (shadowing one that was read, or found by a probe) is
 * missed. Run when the entry is stored, never on a hit. Undefined when the
 * entry must not be recorded (the include search is unknown, or a candidate
 * appeared during the compile).
 * `read`: every file the compile read (the source first) with its hash; `probing`: those containing `__has_include`.
 */
export async function absentFacts(
  d: ModeDeps,
  call: Call,
  read: ReadonlyMap<string, string>,
  probing: ReadonlySet<string>,
  since: number,
  tokens: readonly string[],
): Promise<AbsentFacts | undefined> {
  const { inv } = call;
  const answer = await d.searches.for(call);
  if ("none" in answer) return { guards: [], probeFiles: [] };
  if ("failed" in answer) {
    d.logger.info("%s: the include search is unknown (%s); not recording it for direct mode", basename(inv.sourceFile), answer.failed);
    return undefined;
  }
  const checked = checkedPlans.get(call);
  const reused = checked && checked.search === answer.search && sameFiles(checked, read, probing) ? forStore(checked.plan, sinceNsOf(since)) : undefined;
  const plan = reused ?? planOf(d, call, answer.search, read, probing, since);
  if ("unresolvableProbe" in plan) return { guards: [], probeFiles: [], unresolvableProbe: plan.unresolvableProbe };
  if (!plan.ok) {
    d.logger.info("%s appeared during the compile of %s; not recording it for direct mode", plan.changed, basename(inv.sourceFile));
    return undefined;
  }
  const probeFiles: ManifestEntry["files"] = [];
  for (const path of plan.probeFiles) {
    const found = await d.hashes.digestWithChangeTime(path, tokens);
    if (!found || changedSince(found, since)) {
      d.logger.info("%s (found by a __has_include probe) changed during the compile of %s; not recording it for direct mode", path, basename(inv.sourceFile));
      return undefined;
    }
    probeFiles.push({ path, hash: found.digest.hash, size: found.digest.size });
  }
  const how = reused ? "the speculation check's plan" : plan.adopted ? "the headers' share as an earlier store found it" : "worked out";
  call.log.debug("%s: %d absent-path guards (%s), %d files found by probes", inv.sourceFile, plan.guards.length, how, probeFiles.length);
  return { guards: plan.guards, probeFiles };
}

/**
 * MissContext.closureHoldsHere: whether a compile that ran elsewhere, on
 * files this machine sent, read what a compile here reads. Every file a
 * direct-mode entry of `read` would need absent is absent here, or was
 * there for that compile too (`seen`); a probe finds here only files it
 * could see. The same facts a direct hit on such an entry rests on.
 */
export async function closureHoldsHere(d: Pick<ModeDeps, "searches" | "listings">, call: Call, check: ClosureCheckInput): Promise<ClosureCheck> {
  const answer = await d.searches.for(call);
  // No include search to guard (none, or unknown): nothing vouches that this machine would find the same files.
  if (!("search" in answer)) return { holds: false, reason: "include-search-unknown" };
  const plan = planOf(d, call, answer.search, check.read, check.probing, Date.now(), check.seen);
  if ("unresolvableProbe" in plan) return { holds: false, reason: "has-include-macro", path: plan.unresolvableProbe };
  if (plan.ok) checkedPlans.set(call, { search: answer.search, read: new Map(check.read), probing: new Set(check.probing), plan });
  return plan.ok ? { holds: true, unread: plan.unread ?? [] } : { holds: false, reason: "shadowed", path: plan.changed };
}

/**
 * The last plan a check that held made for a call (its compile ran
 * elsewhere), with what it was made of: the store of that compile takes it
 * instead of locating every candidate again when it records the same files.
 */
interface CheckedPlan {
  search: IncludeSearch;
  read: ReadonlyMap<string, string>;
  probing: ReadonlySet<string>;
  plan: AbsentPlan & { ok: true };
}

const checkedPlans = new WeakMap<Call, CheckedPlan>();

/** Whether a store records the files a check planned for: the same files in the same order, at the same hashes, the same probing. */
function sameFiles(checked: CheckedPlan, read: ReadonlyMap<string, string>, probing: ReadonlySet<string>): boolean {
  if (checked.read.size !== read.size || checked.probing.size !== probing.size) return false;
  const theirs = checked.read.entries();
  for (const [path, hash] of read) {
    const [p, h] = theirs.next().value!;
    if (p !== path || h !== hash) return false;
  }
  for (const path of probing) if (!checked.probing.has(path)) return false;
  return true;
}

/** The absent-path plan of a compile that read `read` (`probing`: those with `__has_include`), or the probe no plan can follow. */
function planOf(
  d: Pick<ModeDeps, "listings">,
  call: Call,
  search: IncludeSearch,
  read: ReadonlyMap<string, string>,
  probing: ReadonlySet<string>,
  since: number,
  seen?: (path: string) => boolean,
): AbsentPlan | { unresolvableProbe: string } {
  const { inv, request } = call;
  const closure = [...read.keys()];
  const probes = probedNames(closure, probing, (f) => read.get(f));
  if (probes.unresolvable.length) return { unresolvableProbe: probes.unresolvable[0]! };
  // A header's are kept by content; the source's are read once.
  const quoted = (file: string) => quotedIncludes(file, read.get(file)!, file !== inv.sourceFile);
  const input = { closure, source: inv.sourceFile, cwd: request.cwd, search, probed: probes.names, probedQuoted: probes.quotedBy, quoted, args: inv.compileArgv, since, hashOf: (f: string) => read.get(f), ...(seen ? { seen } : {}) };
  return absentPaths(input, d.listings.session(), d.listings.absent);
}

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { hashBytes } from "../hashing/key-hasher.js";

/**
 * `__has_include(<x.h>)` asks whether a header exists without including it,
 * so no dependency list names the file it probes, yet its presence changes
 * the result. A job that carries only the included files could then compile
 * differently on a builder. This finds such probes in the closure and the
 * files they would find on this machine, so the job can carry them too.
 *
 * Candidate directories are every ancestor directory of a closure file (the
 * include roots are among them) and the explicit include directories. A probe
 * whose name is not a literal cannot be resolved: the caller must then compile
 * locally. `withProbes`, when given, names the closure files that contain
 * `__has_include` at all: only those are read.
 */
export interface HasIncludeResult {
  /** Files that probes would find here and that the job must carry. */
  extraFiles: string[];
  /** Non-literal probes (e.g. `__has_include(MACRO)`), which make the closure untrustworthy. */
  unresolvable: string[];
}

/** The word whose presence in a file means it may probe (hash caches look for it while hashing). */
export const PROBE_TOKEN = "__has_include";

const PROBE = /__has_include(?:_next)?\s*\(\s*([^)]*)\)/g;

/** The probes of a file's content, by its content hash: headers are read once per daemon, not once per job. */
const probesByContent = new Map<string, FileProbes>();

/** One file's probes: the literal names, those of them spelled with quotes (looked for beside the file first), and the non-literal ones. */
interface FileProbes {
  names: string[];
  quoted: string[];
  unresolvable: string[];
}
const MAX_REMEMBERED = 50_000;

/**
 * `contentHash`, when given, names the content hash of a closure file as the
 * caller read it: its probes are then parsed once per content and path.
 */
export function resolveHasIncludes(
  closure: readonly string[],
  includeDirs: readonly string[],
  withProbes?: ReadonlySet<string>,
  contentHash?: (file: string) => string | undefined,
): HasIncludeResult {
  const { names, unresolvable } = probedNames(closure, withProbes, contentHash);
  if (names.length === 0) return { extraFiles: [], unresolvable };
  const dirs = new Set<string>(includeDirs);
  for (const file of closure) {
    for (let d = dirname(file); d !== "/" && !dirs.has(d); d = dirname(d)) dirs.add(d);
  }
  const inClosure = new Set(closure);
  const extraFiles: string[] = [];
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (inClosure.has(candidate) || !existsSync(candidate)) continue;
      if (statSync(candidate).isFile()) {
        extraFiles.push(candidate);
        inClosure.add(candidate);
      }
    }
  }
  return { extraFiles, unresolvable };
}

/**
 * The literal names the closure's `__has_include` probes ask about, and the
 * probes whose argument is not a literal. Used by jobs (above) and by direct
 * mode's absent-path guards (engine/absent-paths.ts), which also takes
 * `quotedBy`: the files whose quoted probes (`"x.h"`) look beside them first.
 */
export function probedNames(
  closure: readonly string[],
  withProbes?: ReadonlySet<string>,
  contentHash?: (file: string) => string | undefined,
): { names: string[]; unresolvable: string[]; quotedBy: { file: string; name: string }[] } {
  const names = new Set<string>();
  const quotedBy: { file: string; name: string }[] = [];
  const unresolvable: string[] = [];
  for (const file of closure) {
    // The caller may know already which files mention `__has_include` (from their memoised digests).
    if (withProbes && !withProbes.has(file)) continue;
    const hash = contentHash?.(file);
    const memoKey = hash === undefined ? undefined : `${file}\0${hash}`;
    let probes = memoKey === undefined ? undefined : probesByContent.get(memoKey);
    if (!probes) {
      const read = probesIn(file);
      if (!read) continue;
      probes = read;
      // Remembered only for the content the caller hashed: a file that changed since is not filed under the old hash.
      if (memoKey !== undefined && read.hash === hash) {
        if (probesByContent.size >= MAX_REMEMBERED) probesByContent.clear();
        probesByContent.set(memoKey, probes);
      }
    }
    for (const n of probes.names) names.add(n);
    for (const name of probes.quoted) quotedBy.push({ file, name });
    unresolvable.push(...probes.unresolvable);
  }
  return { names: [...names], unresolvable, quotedBy };
}

function probesIn(file: string): (FileProbes & { hash: string }) | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  const text = data.toString("latin1");
  const names: string[] = [];
  const quoted: string[] = [];
  const unresolvable: string[] = [];
  const hash = hashBytes(data);
  if (!text.includes("__has_include")) return { names, quoted, unresolvable, hash };
  for (const m of text.matchAll(PROBE)) {
    const arg = m[1]!.trim();
    const angle = /^<([^>]+)>$/.exec(arg);
    const quote = angle ? undefined : /^"([^"]+)"$/.exec(arg);
    if (angle) names.push(angle[1]!);
    else if (quote) {
      names.push(quote[1]!);
      quoted.push(quote[1]!);
    } else if (arg !== "") unresolvable.push(`${file}: __has_include(${arg})`);
  }
  return { names, quoted, unresolvable, hash };
}

import { lstatSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { AbsentGuard } from "../storage/codec.js";
import type { IncludeSearch } from "./hooks.js";
import { statOrUndefined, type DirListing } from "./dir-listings.js";
import { RACY_WINDOW_MS } from "../hashing/file-hash-cache.js";

/**
 * Where no file may appear for a direct-mode entry to hold. A manifest lists
 * the files a compile read; a header created later earlier on the include
 * path (it would shadow one that was read), or one a `__has_include` probe
 * would find, changes the compile without changing any listed file.
 *
 * The spelled include names are not in the dependency file, so they are
 * inferred conservatively: for each file read and each search directory it
 * lies under (path = dir + name), the same name in every directory searched
 * before that one and in search directories that did not exist; in the
 * working directory when the arguments name it (`-include`). A quoted
 * include is looked for in its includer's directory first: each file's
 * quoted names there (every name above, for a file whose directive names a
 * macro). A probe's name counts in every search directory, and a quoted
 * probe's beside its file too. More candidates than needed only cost a
 * guard, never a wrong hit.
 */
export interface AbsentInput {
  /** Absolute paths of every file the compile read, the source included. */
  closure: readonly string[];
  source: string;
  cwd: string;
  search: IncludeSearch;
  /** Literal names of the closure's `__has_include` probes. */
  probed: readonly string[];
  /** The quoted ones among them, with the file that probes: looked for beside it first. */
  probedQuoted: readonly { file: string; name: string }[];
  /** The quoted includes of a file of the closure (quoted-includes.ts). */
  quoted: (file: string) => { names: readonly string[]; computed: boolean };
  /** The call's arguments: a name among them may be a forced include (`-include`), looked for in the cwd first. */
  args: readonly string[];
  /** When the compile started (ms): a candidate file changed since may have been there for it or not. */
  since: number;
}

export type AbsentPlan =
  | {
      ok: true;
      guards: AbsentGuard[];
      /** Files a probe finds now: their content is recorded like a file read (created or removed, the probe answers otherwise). */
      probeFiles: string[];
    }
  | { ok: false; changed: string };

type Lister = (dir: string) => DirListing | undefined;

/**
 * Where each absent candidate was found absent, by directory and name, kept
 * across stores (the same headers come back in every miss of a build).
 */
export interface AbsentMemo {
  get(dir: string): Map<string, Absent> | undefined;
  set(dir: string, names: Map<string, Absent>): void;
}

type Absent = { dir: string; id: string; name: string };

export function absentPaths(input: AbsentInput, list: Lister, memo?: AbsentMemo): AbsentPlan {
  const { closure, cwd, search } = input;
  const chain = unique([...search.quote, ...search.angle].map((d) => resolve(cwd, d)));
  const missing = unique(search.missing.map((d) => resolve(cwd, d)));
  const read = new Set(closure);
  // By directory, then by name below it: most candidates are settled by one look at a directory's names.
  const candidates = new Map<string, Map<string, "include" | "probe">>();
  const add = (dir: string, name: string, kind: "include" | "probe") => {
    let names = candidates.get(dir);
    if (!names) candidates.set(dir, (names = new Map()));
    if (names.get(name) !== "probe") names.set(name, kind);
  };
  const names = new Set<string>();
  // Plain loops over prefixes made once: this runs for every file read times every search directory, on every miss.
  const prefixes = chain.map((dir) => (dir === "/" ? dir : `${dir}/`));
  for (const file of closure) {
    if (file === input.source) continue;
    for (let k = 0; k < chain.length; k++) {
      const prefix = prefixes[k]!;
      if (!file.startsWith(prefix)) continue;
      const name = file.slice(prefix.length);
      names.add(name);
      for (let j = 0; j < k; j++) add(chain[j]!, name, "include");
      for (const d of missing) add(d, name, "include");
    }
  }
  const args = new Set(input.args.flatMap((a) => [a, a.replace(/^-include/, "")]));
  for (const name of names) if (args.has(name)) add(cwd, name, "include");
  for (const file of closure) {
    const quoted = input.quoted(file);
    for (const name of quoted.computed ? [...names, ...quoted.names] : quoted.names) add(dirname(file), name, "include");
  }
  for (const name of input.probed) {
    for (const d of [...chain, ...missing]) add(d, name, "probe");
  }
  for (const { file, name } of input.probedQuoted) add(dirname(file), name, "probe");

  const sinceNs = BigInt(Math.floor(input.since - RACY_WINDOW_MS)) * 1_000_000n;
  const guards = new Map<string, { id: string; names: Set<string> }>();
  const probeFiles: string[] = [];
  for (const [dir, names] of candidates) {
    let remembered = memo?.get(dir);
    if (memo && !remembered) memo.set(dir, (remembered = new Map()));
    for (const [name, kind] of names) {
      // Still valid while its guard directory shows the identity it had (which vouches that nothing below it changed).
      const known = remembered?.get(name);
      const found = known && known.id !== "" && list(known.dir)?.id === known.id ? known : locateBelow(dir, name, list);
      if (remembered && found !== known && !("present" in found) && found.id !== "") remembered.set(name, found);
      if ("present" in found) {
        const path = found.present;
        if (read.has(path)) continue;
        if (kind === "probe") probeFiles.push(path);
        // A file there now that was there for the compile was not what that name found: its directive does not exist.
        // One that appeared since the compile began may have changed what the compile found.
        else if (found.changedNs > sinceNs) return { ok: false, changed: path };
        continue;
      }
      const guard = guards.get(found.dir) ?? { id: found.id, names: new Set<string>() };
      if (found.id !== guard.id) guard.id = "";
      guard.names.add(found.name);
      guards.set(found.dir, guard);
    }
  }
  return { ok: true, guards: [...guards].map(([dir, g]) => ({ dir, id: g.id, names: [...g.names].sort() })), probeFiles };
}

type Located = { present: string; changedNs: bigint } | { dir: string; id: string; name: string };

/** `name` below `base` (locate), walking down its components through the listings when it names no "." or "..". */
function locateBelow(base: string, name: string, list: Lister): Located {
  const parts = name.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..") || base.endsWith("/")) return locate(join(base, name), list);
  let dir = base;
  let listing = list(dir);
  if (!listing) return locate(join(base, name), list);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (listing.names && !listing.names.has(part)) return { dir, id: listing.id, name: last ? part : `${part}/` };
    const child = `${dir}/${part}`;
    if (last) return locate(child, list);
    const below = list(child);
    if (!below) return locate(`${dir}/${parts.slice(i).join("/")}`, list);
    dir = child;
    listing = below;
  }
  return locate(join(base, name), list);
}

/**
 * A candidate path: present (something the compiler would open: anything but
 * a directory), or absent, guarded by its deepest existing directory.
 */
function locate(path: string, list: Lister): Located {
  let dir = dirname(path);
  let name = basename(path);
  let listing = list(dir);
  if (listing) {
    if (listing.names && !listing.names.has(name)) return { dir, id: listing.id, name };
    const st = statOrUndefined(path);
    if (st && !st.isDirectory()) return { present: path, changedNs: st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs };
  }
  // No directory to look in (nothing can be there): guarded by the deepest one there is.
  while (!listing) {
    if (dir === "/") return { dir, id: "", name };
    name = `${basename(dir)}/${name}`;
    dir = dirname(dir);
    listing = list(dir);
  }
  const first = name.split("/")[0]!;
  const there = listing.names ? listing.names.has(first) : true;
  // Nothing of that name below the deepest directory there is: nothing of it may appear ("sub/" stands for all below).
  if (!there) return { dir, id: listing.id, name: first === name ? name : `${first}/` };
  // There, but a path through a file, or the candidate is a directory (passed over): the guard's identity still
  // vouches; a link (its target may appear elsewhere) or an unreadable directory does not, so its names are checked
  // on every hit.
  const kind = lstatOrUndefined(join(dir, first));
  const plain = kind?.isFile() === true || (kind?.isDirectory() === true && listing.names !== undefined);
  return { dir, id: plain ? listing.id : "", name };
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

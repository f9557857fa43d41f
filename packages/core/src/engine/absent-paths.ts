import { lstatSync, type BigIntStats, type Stats } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { AbsentGuard } from "../storage/codec.js";
import type { IncludeSearch } from "./hooks.js";
import { statOrUndefined, type DirListing } from "./dir-listings.js";
import { AbsentMemo, type ClosureFacts, type HeaderCandidate, type HeaderCandidates, type Located } from "./absent-memo.js";
import { PlanBuilder, sinceNsOf, type AbsentPlan } from "./absent-plan.js";

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
  /**
   * A file's content hash, when known: a header's candidates are then
   * remembered (AbsentMemo) per include search and content, and reused while
   * the directory identities that vouch for them hold.
   */
  hashOf?: (file: string) => string | undefined;
  /**
   * The compile ran elsewhere on files this machine sent (a speculative farm
   * job), not here: whether it could see `path`. A candidate present here
   * and not read then refuses the plan unless it could (PlanBuilder).
   */
  seen?: (path: string) => boolean;
}

export type { AbsentPlan } from "./absent-plan.js";

type Lister = (dir: string) => DirListing | undefined;

export function absentPaths(input: AbsentInput, list: Lister, memo: AbsentMemo = new AbsentMemo()): AbsentPlan {
  const { closure, cwd, search, source } = input;
  const chain = unique([...search.quote, ...search.angle].map((d) => resolve(cwd, d)));
  const missing = unique(search.missing.map((d) => resolve(cwd, d)));
  const headerFiles = closure.filter((f) => f !== source);
  const plan = new PlanBuilder(new Set(closure), new Set(headerFiles), sinceNsOf(input.since), list, input.seen);
  const locateNow = (dir: string, name: string) => locateRemembered(dir, name, list, memo);
  const searchKey = `${chain.join("\n")}\0${missing.join("\n")}`;
  const prefixes = chain.map((dir) => (dir === "/" ? dir : `${dir}/`));
  // The headers' share: as a whole when another store had the same headers (same contents) and it still holds.
  const closure1 = input.hashOf && closureOf(searchKey, headerFiles, input.hashOf);
  let facts = closure1 && sameClosure(memo.closures.get(closure1.bucket), closure1.hashes, headerFiles);
  // Adopted: the candidates whose findings no identity vouches for now (a directory the build writes into) are found again.
  const again = facts && plan.adopt(facts);
  if (facts && again) {
    for (const c of again) if (!plan.take(locateNow(c.dir, c.name), "include")) return plan.refused();
  } else {
    const remembered = memo.headers(searchKey);
    const names = new Set<string>();
    const computed: string[] = [];
    for (const file of headerFiles) {
      const hash = input.hashOf?.(file);
      let header = hash === undefined ? undefined : remembered.get(file);
      if (!header || header.hash !== hash) {
        header = describe(file, false, chain, prefixes, missing, input.quoted(file), locateNow, hash ?? "");
        if (hash !== undefined) remembered.set(file, header);
      }
      for (const name of header.names) names.add(name);
      if (header.computed) computed.push(file);
      for (const c of header.candidates) {
        // A finding is used again only while the identity that vouched for it holds at this store; otherwise found again.
        if (!plan.vouched(c.found)) c.found = locateNow(c.dir, c.name);
        if (!plan.take(c.found, "include", c)) return plan.refused();
      }
    }
    facts = plan.headerFacts([...names], computed, headerFiles, closure1 ? closure1.hashes : []);
    if (closure1) memo.closures.set(closure1.bucket, facts);
  }
  // What depends on the source or on this call is worked out per store.
  const sourceQuoted = closure.includes(source) ? input.quoted(source) : { names: [], computed: false };
  for (const c of describe(source, true, chain, prefixes, missing, sourceQuoted, locateNow, "").candidates) if (!plan.take(c.found, "include")) return plan.refused();
  const args = new Set(input.args.flatMap((a) => [a, a.replace(/^-include/, "")]));
  for (const name of facts.names) if (args.has(name) && !plan.take(locateNow(cwd, name), "include")) return plan.refused();
  for (const file of sourceQuoted.computed ? [...facts.computed, source] : facts.computed) {
    for (const name of facts.names) if (!plan.take(locateNow(dirname(file), name), "include")) return plan.refused();
  }
  for (const name of input.probed) {
    for (const d of [...chain, ...missing]) if (!plan.take(locateNow(d, name), "probe")) return plan.refused();
  }
  for (const { file, name } of input.probedQuoted) if (!plan.take(locateNow(dirname(file), name), "probe")) return plan.refused();
  return plan.done();
}

/**
 * The content hashes of a closure's headers, and the key its facts are filed
 * under (the search and a prefix of each hash: cheap to hash; the whole list is
 * compared when found). Undefined when a content is not known.
 */
function closureOf(searchKey: string, headers: readonly string[], hashOf: (file: string) => string | undefined): { bucket: string; hashes: string[] } | undefined {
  const hashes: string[] = [];
  let prefixes = "";
  for (const file of headers) {
    const hash = hashOf(file);
    if (hash === undefined) return undefined;
    hashes.push(hash);
    prefixes += hash.slice(0, 8);
  }
  return { bucket: `${searchKey}\0${prefixes}`, hashes };
}

/** `facts` when they were taken for exactly these headers with these contents. */
function sameClosure(facts: ClosureFacts | undefined, hashes: readonly string[], headers: readonly string[]): ClosureFacts | undefined {
  if (!facts || facts.headers.length !== headers.length) return undefined;
  for (let i = 0; i < headers.length; i++) if (facts.headers[i] !== headers[i] || facts.hashes[i] !== hashes[i]) return undefined;
  return facts;
}

/**
 * A file's candidates: for each search directory it lies under (path = dir +
 * name), the same name in every directory searched before that one and in
 * those missing (not for the source, which is named, not searched); and its
 * quoted names beside it. Each located now.
 */
function describe(
  file: string,
  isSource: boolean,
  chain: readonly string[],
  prefixes: readonly string[],
  missing: readonly string[],
  quoted: { names: readonly string[]; computed: boolean },
  locateNow: (dir: string, name: string) => Located,
  hash: string,
): HeaderCandidates {
  const names: string[] = [];
  const candidates: HeaderCandidate[] = [];
  const seen = new Set<string>();
  const add = (dir: string, name: string) => {
    const key = `${dir}\0${name}`;
    if (seen.has(key)) return;
    seen.add(key);
    candidates.push({ dir, name, found: locateNow(dir, name) });
  };
  if (!isSource) {
    for (let k = 0; k < chain.length; k++) {
      const prefix = prefixes[k]!;
      if (!file.startsWith(prefix)) continue;
      const name = file.slice(prefix.length);
      names.push(name);
      for (let j = 0; j < k; j++) add(chain[j]!, name);
      for (const d of missing) add(d, name);
    }
  }
  const here = dirname(file);
  for (const name of quoted.names) add(here, name);
  return { hash, names, computed: quoted.computed, candidates };
}

/** A candidate located, or found again as remembered by directory and name while its guard's identity holds. */
function locateRemembered(dir: string, name: string, list: Lister, memo: AbsentMemo): Located {
  let remembered = memo.byDir.get(dir);
  if (!remembered) memo.byDir.set(dir, (remembered = new Map()));
  const known = remembered.get(name);
  const found = known && known.id !== "" && list(known.dir)?.id === known.id ? known : locateBelow(dir, name, list);
  if (found !== known && !("present" in found) && found.id !== "") remembered.set(name, found);
  return found;
}

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
    const own = lstatOrUndefined(path, true);
    // A link is followed (the compiler opens its target), and never vouched for by its directory: its target may change.
    const st = own?.isSymbolicLink() ? statOrUndefined(path) : own;
    if (st && !st.isDirectory()) {
      const changedNs = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
      const vouching = own!.isFile() && listing.names !== undefined && listing.id !== "";
      return { present: path, changedNs, ...(vouching ? { parent: dir, parentId: listing.id } : {}) };
    }
  }
  // No directory to look in (nothing can be there): guarded by the deepest one there is.
  while (!listing) {
    if (dir === "/") return { dir, id: "", name };
    name = `${basename(dir)}/${name}`;
    dir = dirname(dir);
    listing = list(dir);
  }
  const first = name.split("/")[0]!;
  const whole = first === name ? name : `${first}/`;
  // Nothing of that name below the deepest directory there is: nothing of it may appear ("sub/" stands for all below).
  if (listing.names && !listing.names.has(first)) return { dir, id: listing.id, name: whole };
  const kind = lstatOrUndefined(join(dir, first));
  // The same when the directory was not listed (changing, or unreadable): its identity vouches for nothing then.
  if (!listing.names && !kind) return { dir, id: "", name: whole };
  // There, but a path through a file, or the candidate is a directory (passed over): the guard's identity still
  // vouches; a link (its target may appear elsewhere) or an unreadable directory does not, so its names are checked
  // on every hit.
  const plain = kind?.isFile() === true || (kind?.isDirectory() === true && listing.names !== undefined);
  return { dir, id: plain ? listing.id : "", name };
}

function lstatOrUndefined(path: string): Stats | undefined;
function lstatOrUndefined(path: string, bigint: true): BigIntStats | undefined;
function lstatOrUndefined(path: string, bigint = false): Stats | BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

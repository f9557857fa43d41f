import { statSync, type BigIntStats } from "node:fs";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { SEARCH_PLACES } from "../config/config-locator.js";
import { RACY_WINDOW_MS, type FileHashCache } from "../hashing/file-hash-cache.js";
import { userConfigDir } from "../util/paths.js";
import type { WatchItem } from "./entry-format.js";
import type { AbsentGuard } from "../storage/codec.js";
import { BoundedMap } from "../util/bounded-map.js";

/**
 * A file changed this recently may change again within the same timestamp
 * tick without its stat showing it ("racy timestamps"): it is never vouched
 * for by its stat. The same window as FileHashCache's.
 */
export const RACY_WINDOW_NS = BigInt(RACY_WINDOW_MS) * 1_000_000n;

function statBig(path: string): BigIntStats | undefined | "error" {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false }) ?? undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOTDIR" ? undefined : "error";
  }
}

/**
 * What is at `path` now, as the client will check it; undefined when it
 * cannot be vouched for: a file changed within the racy window before
 * `sinceNs` (the moment the call began looking at it) may have changed since
 * unseen.
 */
export function watchPath(path: string, sinceNs: bigint): WatchItem | undefined {
  const st = statBig(path);
  if (st === "error") return undefined;
  if (!st) return { kind: "absent", path };
  if (st.isDirectory()) return { kind: "dir", path, dev: st.dev, ino: st.ino, uid: Number(st.uid), mode: Number(st.mode) };
  const changed = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  if (changed > sinceNs - RACY_WINDOW_NS) return undefined;
  return { kind: "file", path, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/**
 * A source or header the hit was decided on, vouched for only by the
 * identity the hash cache read the decided-on content under, and only when
 * that content was read well after the file last changed (FileHashCache
 * vouched): the entry then holds exactly while the file keeps that identity.
 * No stat of its own, whose identity could be a later one than the digest's,
 * and no "now", which a delayed recording would push past the racy window.
 */
export function watchHashedFile(path: string, hash: string, tokens: readonly string[], hashes: FileHashCache): WatchItem | undefined {
  if (!isAbsolute(path)) return undefined;
  const known = hashes.vouched(path, tokens);
  if (!known || known.digest.hash !== hash) return undefined;
  return { kind: "file", path, ...known.identity };
}

/**
 * The compiler executable as found, by device, inode, size and mtime: it
 * stands for its installation (the client watches none of the programs it
 * runs, such as cc1), which an upgrade replaces (a new inode) or rewrites (a
 * new mtime). Not by ctime: that moves whenever a hard link to the file is
 * made or removed (a farm builder laying out the host's toolchain, perf's
 * build-id cache), which voided every entry of that compiler at once.
 */
export function watchExecutable(path: string, sinceNs: bigint): WatchItem | undefined {
  const st = statBig(path);
  if (!st || st === "error" || st.isDirectory()) return undefined;
  if (st.mtimeNs > sinceNs - RACY_WINDOW_NS) return undefined;
  return { kind: "executable", path, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
}

/**
 * Every place the compiler lookup looked (engine/find-executable.ts): a
 * compiler put earlier on PATH, or the one found replaced, voids the entry.
 */
export function watchCompilerLookup(name: string, found: string, cwd: string, pathEnv: string | undefined, sinceNs: bigint): WatchItem[] | undefined {
  if (name.includes("/")) {
    const item = watchExecutable(isAbsolute(name) ? name : resolve(cwd, name), sinceNs);
    return item ? [item] : undefined;
  }
  const items: WatchItem[] = [];
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(resolve(cwd, dir), name);
    if (candidate === found) {
      const item = watchExecutable(candidate, sinceNs);
      return item ? [...items, item] : undefined;
    }
    const item = watchPath(candidate, sinceNs);
    if (!item) return undefined;
    items.push(item);
  }
  return undefined;
}

/**
 * Every place the config search looked (config/config-locator.ts): each
 * directory from the cwd up to the one holding the config in use (to the
 * root and the user's config directory when there is none), with its owner
 * and mode (the search's trust rule), and each config name in it. A config
 * created, removed or edited anywhere there voids the entry.
 */
export function watchConfigSearch(cwd: string, configFile: string | undefined, env: Readonly<Record<string, string>>, sinceNs: bigint): WatchItem[] | undefined {
  const items: WatchItem[] = [];
  const addDir = (dir: string): boolean => {
    const d = watchPath(dir, sinceNs);
    if (!d) return false;
    items.push(d);
    for (const name of SEARCH_PLACES) {
      const item = watchPath(join(dir, name), sinceNs);
      if (!item) return false;
      items.push(item);
    }
    return true;
  };
  let dir = resolve(cwd);
  for (;;) {
    if (!addDir(dir)) return undefined;
    if (configFile && dirname(configFile) === dir) return items;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const user = userConfigDir(env as NodeJS.ProcessEnv);
  if (!addDir(user)) return undefined;
  if (configFile && dirname(configFile) !== user) return undefined;
  return items;
}

/**
 * A manifest entry's absent-path guard as the client checks it: the
 * directory's identity when its names were last seen absent (none when it
 * was changing then: the client checks the names every time).
 */
export function watchAbsentGuard(guard: AbsentGuard): WatchItem {
  const parts = guard.id ? guard.id.split(":").map((p) => BigInt(p)) : [0n, 0n, 0n, 0n];
  const [dev, ino, mtimeNs, ctimeNs] = parts.length === 4 ? parts : [0n, 0n, 0n, 0n];
  return { kind: "guard", path: guard.dir, dev: dev!, ino: ino!, mtimeNs: mtimeNs!, ctimeNs: ctimeNs!, names: guard.names };
}

/**
 * The compiler lookup's and the config search's items, kept from one
 * entry's recording for the next: a build's entries share them (~90 stats
 * each for a tree a few directories deep). Items taken for an earlier entry
 * serve a call only when their stats began after that call arrived and
 * every timestamp they carry shows no change since before it, exactly what
 * taking them again now for that call would vouch for; otherwise they are
 * taken again.
 */
export class SharedWatches {
  private readonly memo = new BoundedMap<string, { items: readonly WatchItem[]; statMs: number }>(256);

  /** `take(sinceNs)` stats the places now (undefined: something changed too recently); `callStartMs`: when the call arrived. */
  items(key: string, callStartMs: number, take: (sinceNs: bigint) => WatchItem[] | undefined): readonly WatchItem[] | undefined {
    const sinceNs = BigInt(Math.floor(callStartMs)) * 1_000_000n;
    const kept = this.memo.get(key);
    if (kept && kept.statMs > callStartMs && kept.items.every((item) => settledBefore(item, sinceNs))) return kept.items;
    const statMs = Date.now();
    const items = take(sinceNs);
    if (items) this.memo.set(key, { items, statMs });
    return items;
  }
}

/** Whether an item's timestamps show no change within the racy window before `sinceNs`, as `watchPath` and `watchExecutable` require. */
function settledBefore(item: WatchItem, sinceNs: bigint): boolean {
  if (item.kind === "file") return (item.mtimeNs > item.ctimeNs ? item.mtimeNs : item.ctimeNs) <= sinceNs - RACY_WINDOW_NS;
  if (item.kind === "executable") return item.mtimeNs <= sinceNs - RACY_WINDOW_NS;
  return true;
}

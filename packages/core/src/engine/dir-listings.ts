import { readdirSync, statSync, type BigIntStats } from "node:fs";
import { LRUCache } from "lru-cache";
import { RACY_WINDOW_MS } from "../hashing/file-hash-cache.js";
import { AbsentMemo } from "./absent-memo.js";

const RACY_WINDOW_NS = BigInt(RACY_WINDOW_MS) * 1_000_000n;

/** A directory's stat identity as absent-path guards record it: any entry created, removed or renamed in it changes it. */
export function dirIdentity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * The identity of `st`, taken at `takenAtNs`, when it can vouch for the
 * directory's contents: "" when the directory changed within the racy
 * window before, since another change within the same timestamp tick would
 * leave its times as they are.
 */
export function stableIdentity(st: BigIntStats, takenAtNs: bigint): string {
  const changed = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  return changed > takenAtNs - RACY_WINDOW_NS ? "" : dirIdentity(st);
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** A stat that follows links, undefined for nothing usable there (absent, a path through a file, no permission). */
export function statOrUndefined(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false }) ?? undefined;
  } catch {
    return undefined;
  }
}

export interface DirListing {
  /** The directory's identity, taken before its names were read ("" when it was changing then, see stableIdentity). */
  id: string;
  /** Its entries; undefined when it can be searched but not read, or is changing (id ""): each name is then looked up. */
  names: ReadonlySet<string> | undefined;
}

const CHANGING: DirListing = { id: "", names: undefined };

/** Lookups of a changing directory in one store after which its names are read rather than each looked up. */
const LIST_CHANGING_AFTER = 16;

/**
 * Directory listings for the store of a direct-mode entry (never a hit),
 * kept across misses while the directory's identity is unchanged: a build's
 * misses search the same include directories.
 */
export class DirListings {
  private readonly kept = new LRUCache<string, DirListing>({ max: 4096 });
  /** Absent-path candidates as last found, each valid while the identity that vouches for it holds (absent-memo.ts). */
  readonly absent = new AbsentMemo();

  /** A lister for one store: each directory is looked at once. `undefined`: not a directory. */
  session(): (dir: string) => DirListing | undefined {
    const seen = new Map<string, DirListing | null>();
    const asked = new Map<string, number>();
    return (dir) => {
      // One lookup on the common path (asked once per header candidate at every store): `null` stands for "not a directory".
      const known = seen.get(dir);
      if (known === CHANGING) return this.changing(dir, seen, asked);
      if (known !== undefined) return known ?? undefined;
      const listing = this.list(dir);
      seen.set(dir, listing ?? null);
      return listing;
    };
  }

  /**
   * A changing directory asked about many times in one store (every name of
   * a closure beside a header whose include names a macro, in the directory
   * the build writes its objects into): its names are read once for this
   * store, a snapshot as good as one lstat per name. Its identity still
   * vouches for nothing ("": each guarded name is looked up at every hit).
   */
  private changing(dir: string, seen: Map<string, DirListing | null>, asked: Map<string, number>): DirListing {
    const n = (asked.get(dir) ?? 0) + 1;
    asked.set(dir, n);
    if (n < LIST_CHANGING_AFTER) return CHANGING;
    let names: Set<string> | undefined;
    try {
      names = new Set(readdirSync(dir));
    } catch {
      names = undefined;
    }
    const listing: DirListing = { id: "", names };
    seen.set(dir, listing);
    return listing;
  }

  private list(dir: string): DirListing | undefined {
    const takenAt = nowNs();
    const st = statOrUndefined(dir);
    if (!st?.isDirectory()) return undefined;
    const id = stableIdentity(st, takenAt);
    // Changing (the directory a build writes its objects into): no identity would vouch for a listing, so none is
    // read; each name is looked up on its own, cheaper than listing a whole source directory at every store.
    if (!id) return CHANGING;
    const kept = this.kept.get(dir);
    if (kept && kept.id === id) return kept;
    let names: Set<string> | undefined;
    try {
      names = new Set(readdirSync(dir));
    } catch {
      names = undefined;
    }
    const listing: DirListing = { id: names ? id : "", names };
    if (listing.id) this.kept.set(dir, listing);
    return listing;
  }
}

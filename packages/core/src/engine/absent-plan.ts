import type { AbsentGuard } from "../storage/codec.js";
import type { CandidatePlace, ClosureFacts, FoundPresent, Located } from "./absent-memo.js";
import type { DirListing } from "./dir-listings.js";
import { RACY_WINDOW_MS } from "../hashing/file-hash-cache.js";

export type AbsentPlan =
  | {
      ok: true;
      guards: AbsentGuard[];
      /** Files a probe finds now: their content is recorded like a file read (created or removed, the probe answers otherwise). */
      probeFiles: string[];
      /** The headers' share was adopted from an earlier store with the same headers (AbsentMemo). */
      adopted: boolean;
      /** With `seen` only: the candidates present here that the compile did not read (it could see each). */
      unread?: string[];
      /** With `seen` only: how each of `unread` was found, for the store's plan of the same compile (`forStore`). */
      unreadFound?: UnreadFound[];
    }
  | { ok: false; changed: string };

type Lister = (dir: string) => DirListing | undefined;

/** A candidate present here that a compile run elsewhere did not read: as which kind of candidate, and when it last changed. */
export interface UnreadFound {
  path: string;
  include: boolean;
  probe: boolean;
  changedNs: bigint;
}

/** The plan's `sinceNs` for a compile that started at `since` (ms). */
export function sinceNsOf(since: number): bigint {
  return BigInt(Math.floor(since - RACY_WINDOW_MS)) * 1_000_000n;
}

/**
 * The plan a store of the compile would work out, from the plan of the check
 * `seen` made of the same files (same include search, files read, hashes
 * and probing files): the same candidates were located, and only what the
 * store does with a present one it did not read differs. A probe's is a
 * probe file; an include's refuses the plan when it changed since the
 * compile began (`sinceNs`), which the check did not ask.
 */
export function forStore(checked: AbsentPlan & { ok: true }, sinceNs: bigint): AbsentPlan {
  const probeFiles: string[] = [];
  for (const u of checked.unreadFound ?? []) {
    if (u.include && u.changedNs > sinceNs) return { ok: false, changed: u.path };
    if (u.probe) probeFiles.push(u.path);
  }
  return { ok: true, guards: checked.guards, probeFiles, adopted: checked.adopted };
}

/**
 * The guards and probe files of one store (absent-paths.ts), from the
 * candidates' findings; and the headers' share of them as `ClosureFacts`,
 * with every directory identity it rests on, to be adopted by a later store
 * whose headers are the same once those identities are seen again.
 */
export class PlanBuilder {
  private readonly guards = new Map<string, { id: string; names: Set<string> }>();
  private readonly probeFiles = new Set<string>();
  private changed = "";
  private readonly unread = new Map<string, UnreadFound>();
  /** The headers' findings by the directory identity that vouches for them, and those nothing vouches for. */
  private readonly groups = new Map<string, { id: string; names: Set<string>; presents: FoundPresent[]; candidates: CandidatePlace[] }>();
  private readonly unvouched: CandidatePlace[] = [];
  private adopted = false;

  constructor(
    /** Every file the compile read. */
    private readonly read: ReadonlySet<string>,
    /** Those of them a closure's facts are keyed by (all but the source). */
    private readonly headers: ReadonlySet<string>,
    /** Before the compile started, less the racy window (ns). */
    private readonly sinceNs: bigint,
    private readonly list: Lister,
    /**
     * The compile ran elsewhere, on files this machine sent (a speculative
     * farm job): a candidate present here that it did not read is refused
     * unless it could see that file too, whenever it appeared.
     */
    private readonly seen?: (path: string) => boolean,
  ) {}

  /** Whether a finding made at an earlier store still stands now. */
  vouched(found: Located): boolean {
    if (!("present" in found)) return found.id !== "" && this.list(found.dir)?.id === found.id;
    // A file this compile read: whatever is there, the entry records its content.
    if (this.read.has(found.present)) return true;
    // The same plain file is still there (its directory shows the same identity) and was there before the compile began.
    return this.presentHolds(found);
  }

  /**
   * Adds a finding; false when it means the entry must not be recorded (a
   * candidate appeared during the compile). `ofHeader`: the header's
   * candidate it answers, noted for the closure's facts.
   */
  take(found: Located, kind: "include" | "probe", ofHeader?: CandidatePlace): boolean {
    if ("present" in found) {
      const path = found.present;
      if (ofHeader && !this.headers.has(path)) this.note(ofHeader, found.parent, found.parentId, found);
      if (this.read.has(path)) return true;
      if (this.seen) {
        this.noteUnread(found, kind);
        if (this.seen(path)) return true;
        this.changed = path;
        return false;
      }
      if (kind === "probe") this.probeFiles.add(path);
      // A file there now that was there for the compile was not what that name found: its directive does not exist.
      // One that appeared since the compile began may have changed what the compile found.
      else if (found.changedNs > this.sinceNs) {
        this.changed = path;
        return false;
      }
      return true;
    }
    if (ofHeader) this.note(ofHeader, found.dir, found.id, undefined, found.name);
    let guard = this.guards.get(found.dir);
    if (!guard) this.guards.set(found.dir, (guard = { id: found.id, names: new Set<string>() }));
    else if (found.id !== guard.id) guard.id = "";
    guard.names.add(found.name);
    return true;
  }

  /** The headers' share taken so far (before anything of the source or the call). */
  headerFacts(names: string[], computed: string[], headers: readonly string[], hashes: readonly string[]): ClosureFacts {
    const groups = [...this.groups].map(([dir, g]) => ({ dir, id: g.id, names: [...g.names], presents: g.presents, candidates: g.candidates }));
    return { headers, hashes, groups, unvouched: this.unvouched, names, computed };
  }

  /**
   * Takes a closure's facts from an earlier store: each group's findings
   * while its identity holds now. Returns the candidates to find again (those
   * of a group whose directory changed, and those nothing vouched for), or
   * undefined (nothing taken) when a present candidate no longer predates
   * this compile.
   */
  adopt(facts: ClosureFacts): CandidatePlace[] | undefined {
    const again: CandidatePlace[] = [...facts.unvouched];
    const holding = [];
    for (const g of facts.groups) {
      if (this.list(g.dir)?.id !== g.id) again.push(...g.candidates);
      else if (g.presents.some((p) => !this.read.has(p.present) && (this.seen ? !this.seen(p.present) : p.changedNs > this.sinceNs))) return undefined;
      else holding.push(g);
    }
    if (this.seen) for (const g of holding) for (const p of g.presents) if (!this.read.has(p.present)) this.noteUnread(p, "include");
    for (const g of holding) {
      const guard = this.guards.get(g.dir) ?? { id: g.id, names: new Set<string>() };
      if (g.id !== guard.id) guard.id = "";
      for (const name of g.names) guard.names.add(name);
      if (g.names.length) this.guards.set(g.dir, guard);
    }
    this.adopted = true;
    return again;
  }

  refused(): AbsentPlan {
    return { ok: false, changed: this.changed };
  }

  done(): AbsentPlan {
    // In the order of their directories: the same guards read the same whichever findings were reused.
    const guards = [...this.guards].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([dir, g]) => ({ dir, id: g.id, names: [...g.names].sort() }));
    return { ok: true, guards, probeFiles: [...this.probeFiles], adopted: this.adopted, ...(this.seen ? { unread: [...this.unread.keys()], unreadFound: [...this.unread.values()] } : {}) };
  }

  private noteUnread(found: FoundPresent, kind: "include" | "probe"): void {
    let u = this.unread.get(found.present);
    if (!u) this.unread.set(found.present, (u = { path: found.present, include: false, probe: false, changedNs: found.changedNs }));
    u[kind] = true;
    if (found.changedNs > u.changedNs) u.changedNs = found.changedNs;
  }

  private presentHolds(found: FoundPresent): boolean {
    return found.parentId !== undefined && found.parentId !== "" && found.changedNs <= this.sinceNs && this.list(found.parent!)?.id === found.parentId;
  }

  /** Files a header's finding under the identity that vouches for it (`dir` showing `id`), or with those nothing vouches for. */
  private note(place: CandidatePlace, dir: string | undefined, id: string | undefined, present?: FoundPresent, absentName?: string): void {
    const group = dir !== undefined && id ? this.groups.get(dir) : undefined;
    if (dir === undefined || !id || (group && group.id !== id)) {
      this.unvouched.push(place);
      return;
    }
    const g = group ?? { id, names: new Set<string>(), presents: [], candidates: [] };
    if (!group) this.groups.set(dir, g);
    g.candidates.push(place);
    if (present) g.presents.push(present);
    if (absentName !== undefined) g.names.add(absentName);
  }
}

import type { AbsentGuard } from "../storage/codec.js";
import type { ClosureFacts, FoundPresent, Located } from "./absent-memo.js";
import type { DirListing } from "./dir-listings.js";

export type AbsentPlan =
  | {
      ok: true;
      guards: AbsentGuard[];
      /** Files a probe finds now: their content is recorded like a file read (created or removed, the probe answers otherwise). */
      probeFiles: string[];
      /** The headers' share was adopted from an earlier store with the same headers (AbsentMemo). */
      adopted: boolean;
    }
  | { ok: false; changed: string };

type Lister = (dir: string) => DirListing | undefined;

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
  private readonly vouchers = new Map<string, string>();
  private readonly presents: FoundPresent[] = [];
  private unvouched = false;
  private adopted = false;

  constructor(
    /** Every file the compile read. */
    private readonly read: ReadonlySet<string>,
    /** Those of them a closure's facts are keyed by (all but the source). */
    private readonly headers: ReadonlySet<string>,
    /** Before the compile started, less the racy window (ns). */
    private readonly sinceNs: bigint,
    private readonly list: Lister,
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
   * candidate appeared during the compile). `ofHeaders`: a header's
   * candidate, noted for the closure's facts.
   */
  take(found: Located, kind: "include" | "probe", ofHeaders = false): boolean {
    if ("present" in found) {
      const path = found.present;
      if (ofHeaders && !this.headers.has(path)) this.notePresent(found);
      if (this.read.has(path)) return true;
      if (kind === "probe") this.probeFiles.add(path);
      // A file there now that was there for the compile was not what that name found: its directive does not exist.
      // One that appeared since the compile began may have changed what the compile found.
      else if (found.changedNs > this.sinceNs) {
        this.changed = path;
        return false;
      }
      return true;
    }
    if (ofHeaders) this.vouch(found.dir, found.id);
    const guard = this.guards.get(found.dir) ?? { id: found.id, names: new Set<string>() };
    if (found.id !== guard.id) guard.id = "";
    guard.names.add(found.name);
    this.guards.set(found.dir, guard);
    return true;
  }

  /** The headers' share taken so far (before anything of the source or the call). */
  headerFacts(names: string[], computed: string[], headers: readonly string[], hashes: readonly string[]): ClosureFacts {
    const guards = [...this.guards].map(([dir, g]) => ({ dir, id: g.id, names: [...g.names].sort() }));
    return { headers, hashes, guards, presents: [...this.presents], vouchers: [...this.vouchers], names, computed, vouched: !this.unvouched };
  }

  /** Takes a closure's facts from an earlier store, when every identity they rest on holds now; false (nothing taken) when one does not. */
  adopt(facts: ClosureFacts): boolean {
    if (!facts.vouched) return false;
    for (const [dir, id] of facts.vouchers) if (this.list(dir)?.id !== id) return false;
    for (const p of facts.presents) if (!this.read.has(p.present) && !this.presentHolds(p)) return false;
    for (const g of facts.guards) this.guards.set(g.dir, { id: g.id, names: new Set(g.names) });
    this.adopted = true;
    return true;
  }

  refused(): AbsentPlan {
    return { ok: false, changed: this.changed };
  }

  done(): AbsentPlan {
    return { ok: true, guards: [...this.guards].map(([dir, g]) => ({ dir, id: g.id, names: [...g.names].sort() })), probeFiles: [...this.probeFiles], adopted: this.adopted };
  }

  private presentHolds(found: FoundPresent): boolean {
    return found.parentId !== undefined && found.parentId !== "" && found.changedNs <= this.sinceNs && this.list(found.parent!)?.id === found.parentId;
  }

  private notePresent(found: FoundPresent): void {
    this.presents.push(found);
    if (found.parentId) this.vouch(found.parent!, found.parentId);
    else this.unvouched = true;
  }

  private vouch(dir: string, id: string): void {
    const known = this.vouchers.get(dir);
    if (id === "" || (known !== undefined && known !== id)) this.unvouched = true;
    else this.vouchers.set(dir, id);
  }
}

import { LRUCache } from "lru-cache";
import type { Call, CallResult } from "./call.js";
import type { CallOutcomes } from "./call-outcomes.js";
import { storageId } from "./direct-mode.js";
import { restoreEntry, type CopiedLead } from "./restore-entry.js";
import { COPY_MIN_BYTES } from "./copy-outputs.js";
import { copyVerifiedLead, copyVouchedLead, linkLead, stageLeadCopy } from "./lead-copy.js";
import { readLeadTail } from "../storage/lead-entry.js";
import { hashBytes } from "../hashing/key-hasher.js";
import { outputAdapter } from "./adapt-outputs.js";
import { readFallbackCopy } from "./preprocessor-fallback.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import { decodeEntry, type CacheEntry } from "../storage/codec.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import { CorruptEntryError } from "../util/errors.js";
import { SETTLING_SKIPS, type CopiedOutputSource, type DaemonHit, type RecordOutcome, type WrittenOutput } from "../hit-index/hit-index.js";
import { indexableHit, type HitFacts } from "../hit-index/indexable-hit.js";

const RECENT_ENTRIES_BYTES = 64 * 1024 * 1024;

/** A stored entry every byte of which this daemon checksummed: its footer's CRC, and the file's identity then (LocalBlob.identity). */
interface Checksummed {
  crc: number;
  identity: string;
}

/**
 * Remembered entries are kept per storage instance: what a project's own
 * storage plugin returned is never served to another project's call (the
 * built-in local store, one per cache directory, is shared).
 */
function recentKey(storage: CacheStorage, resultKey: string): string {
  return `${storageId(storage)}\0${resultKey}`;
}

function entryBytes(e: CacheEntry): number {
  return Math.max(1, e.outputs.reduce((n, o) => n + o.data.length, 0) + e.stdout.length + e.stderr.length);
}

/**
 * Serves a call from a stored entry: reads it (or takes it from memory),
 * checks it, and writes its outputs where this call expects them.
 */
export class HitServer {
  /**
   * Entries read or written lately, decoded, by result key. A result key
   * names its content, so a remembered entry is as good as the stored one;
   * a rebuild after `make clean` is then served without reading or inflating.
   */
  private readonly recent = new LRUCache<string, CacheEntry>({ maxSize: RECENT_ENTRIES_BYTES, sizeCalculation: entryBytes });
  /**
   * Entries stored by a kernel copy (copy-outputs.ts), so never in `recent`: read back once the daemon is idle, to index them;
   * with what vouches for their bytes when this daemon checksummed them itself.
   */
  private readonly copiedLately = new LRUCache<string, Checksummed | true>({ max: 4096 });
  /** Index entries being tried again (see `index`), in turn. */
  private retries: Promise<void> = Promise.resolve();
  /** Source and result of each entry waiting for its second try. */
  private readonly retrying = new Set<string>();

  constructor(
    private readonly hashes: FileHashCache,
    private readonly stats: Stats,
    private readonly logger: Logger,
    private readonly outcomes: CallOutcomes,
    /** Records direct-mode hits for the native client to answer itself next time (the daemon's hit index). */
    private readonly hitIndex?: { record(hit: DaemonHit, options?: { keepExisting?: boolean }): RecordOutcome },
  ) {}

  /**
   * `silentOnly`: the direct-mode fallback's lookup, of a copy in the first level that is served only without diagnostics.
   * `direct`: what a direct-mode hit was decided on, for the hit index.
   */
  async tryHit(
    call: Call,
    resultKey: string,
    kind: "direct" | "preprocessor",
    silentOnly = false,
    direct?: HitFacts["direct"],
    relocation?: { restored(entry: CacheEntry): CacheEntry },
  ): Promise<CallResult | undefined> {
    // Recache: compile as on a miss and overwrite what every writable level holds.
    if (call.settings.recache) return undefined;
    let stored = this.recent.get(recentKey(call.storage, resultKey));
    // A large entry on this machine's disk: its largest output is put in place by a kernel copy (lead-copy.ts).
    const opened = stored || silentOnly || relocation ? undefined : await this.openLocal(call, resultKey);
    if (opened === "rejected") return undefined;
    stored ??= opened?.entry ?? (await this.readEntry(call.storage, resultKey, silentOnly));
    if (!stored || (silentOnly && (stored.stdout.length > 0 || stored.stderr.length > 0))) return undefined;
    // baseDirs: relocated outputs and streams get this checkout's base directory back.
    const entry = relocation ? relocation.restored(stored) : stored;
    const adapt = outputAdapter(call.project.engine, call.compiler, call.inv);
    const written: WrittenOutput[] = [];
    const onWritten = (path: string, data: Buffer) => {
      this.hashes.rememberWritten(path, data);
      if (direct) written.push({ path, data, executable: call.inv.outputs.some((o) => o.path === path && o.executable === true) });
    };
    try {
      if (!restoreEntry(entry, call.inv, onWritten, adapt, opened?.lead)) return undefined;
    } catch (err) {
      if (!(err instanceof CorruptEntryError)) throw err;
      this.rejected("result", resultKey, err);
      await call.storage.remove("result", resultKey);
      return undefined;
    } finally {
      opened?.close();
    }
    if (direct && this.hitIndex && opened?.lead) {
      // The copied output's bytes never came through memory: the entry is read back after the answer, as a kernel-copied store's is.
      this.storedByCopy(call.storage, resultKey, opened.checksummed);
      setImmediate(() => this.indexStored(call, resultKey, direct));
    } else if (direct && this.hitIndex) this.indexLater(call, resultKey, entry, written, direct);
    call.log.debug("%s: result key %s, from %s", call.inv.sourceFile, resultKey, call.storage.location);
    const serviceMs = performance.now() - call.started;
    this.stats.hit(kind, call.inv.language, entry.compileMs, serviceMs);
    await this.outcomes.finished(call, kind === "direct" ? "hit-direct" : "hit-preprocessor", entry.exitCode, serviceMs);
    return { kind: "done", exitCode: entry.exitCode, stdout: entry.stdout, stderr: entry.stderr };
  }

  /**
   * The entry stored under `resultKey` as a file of this machine, opened: a
   * format-4 entry (its lead output not adapted by this call) with that
   * output left in the file, to be copied by `lead`; any other read whole
   * from the same open file and remembered. Undefined when the storage has
   * no such file (it is then read as always); "rejected" when the blob is not
   * what its key promises (removed and counted, a miss).
   */
  private async openLocal(
    call: Call,
    resultKey: string,
  ): Promise<{ entry: CacheEntry; lead?: CopiedLead; checksummed?: Checksummed; close(): void } | "rejected" | undefined> {
    const blob = call.storage.openLocal?.("result", resultKey);
    if (!blob) return undefined;
    const close = () => blob.close();
    try {
      const tail = blob.size >= COPY_MIN_BYTES ? readLeadTail((position, length) => blob.read(position, length), blob.size, resultKey) : undefined;
      const role = tail?.entry.outputs[tail.leadIndex]!.role;
      if (tail && !call.inv.outputs.some((o) => o.role === role && o.adapt)) {
        // Taken before the copy the hit checks: a change to the file after it gives another identity.
        const identity = blob.identity?.();
        const checksummed = identity === undefined ? undefined : { crc: tail.crc, identity };
        return { entry: tail.entry, lead: { role: role!, stage: (path, executable) => stageLeadCopy(blob, tail, path, executable) }, checksummed, close };
      }
      const data = blob.read(0, blob.size);
      close();
      if (data.length !== blob.size) throw new CorruptEntryError("entry is shorter than it was");
      const entry = await decodeEntry(data, resultKey);
      this.remember(call.storage, resultKey, entry);
      return { entry, close };
    } catch (err) {
      close();
      if (!(err instanceof CorruptEntryError)) throw err;
      this.rejected("result", resultKey, err);
      await call.storage.remove("result", resultKey);
      return "rejected";
    }
  }

  /** After a miss was stored (or a fallback hit recorded for direct mode): indexes the entry as the hit the same call would now get. */
  indexStored(call: Call, resultKey: string, direct: HitFacts["direct"], options: { keepExisting?: boolean } = {}): void {
    if (!this.hitIndex) return;
    const key = recentKey(call.storage, resultKey);
    const stored = this.recent.get(key);
    if (stored) return this.indexEntry(call, resultKey, stored, direct, options);
    const copied = this.copiedLately.get(key);
    if (!copied) return;
    this.copiedLately.delete(key);
    // Stored by a kernel copy, its bytes never came through memory: the index copies its lead output from the stored entry in turn.
    const lead = this.storedLead(call, resultKey, copied === true ? undefined : copied);
    if (lead) return this.indexEntry(call, resultKey, lead.entry, direct, options, lead);
    // Another format (or unreadable here): read back whole, which also keeps it in `recent`.
    void this.readEntry(call.storage, resultKey, false).then(
      (entry) => entry && this.indexEntry(call, resultKey, entry, direct, options),
      (err: unknown) => this.logger.debug("hit index: could not read back %s: %s", resultKey, (err as Error).message),
    );
  }

  /**
   * A stored entry was written by a kernel copy rather than from memory (see `indexStored`).
   * `checksummed`: this daemon has just read every byte of it for its CRC (stored it, or
   * served a hit from it); the index's copy is then not read back while the file keeps
   * that identity. A footer CRC alone (a store) is checked against the file now.
   */
  storedByCopy(storage: CacheStorage, resultKey: string, checksummed?: Checksummed | { crc: number }): void {
    if (!this.hitIndex) return;
    const vouched = checksummed && ("identity" in checksummed ? checksummed : this.identityOf(storage, resultKey, checksummed.crc));
    this.copiedLately.set(recentKey(storage, resultKey), vouched ?? true);
  }

  /** The identity of the entry stored under `resultKey` when its footer's CRC is `crc`. */
  private identityOf(storage: CacheStorage, resultKey: string, crc: number): Checksummed | undefined {
    const blob = storage.openLocal?.("result", resultKey);
    if (!blob) return undefined;
    try {
      const identity = blob.identity?.();
      const tail = readLeadTail((position, length) => blob.read(position, length), blob.size, resultKey);
      return identity !== undefined && tail?.crc === crc ? { crc, identity } : undefined;
    } catch {
      return undefined;
    } finally {
      blob.close();
    }
  }

  /**
   * A format-4 entry's footer and body (its lead output not read), with the
   * lead's source for the hit index: a hard link to the stored blob (else a
   * kernel copy of it), checked by its CRC, as a hit's own copy is (unless `checksummed` vouches
   * for the file, see `storedByCopy`). Undefined when the entry is
   * of another format, unreadable, or its lead is adapted per call (then it
   * is read back whole).
   */
  private storedLead(call: Call, resultKey: string, checksummed?: Checksummed): { entry: CacheEntry; role: string; source: CopiedOutputSource } | undefined {
    const { storage } = call;
    const blob = storage.openLocal?.("result", resultKey);
    if (!blob) return undefined;
    let tail;
    try {
      tail = readLeadTail((position, length) => blob.read(position, length), blob.size, resultKey);
    } catch {
      return undefined;
    } finally {
      blob.close();
    }
    if (!tail) return undefined;
    const role = tail.entry.outputs[tail.leadIndex]!.role;
    if (call.inv.outputs.some((o) => o.role === role && o.adapt)) return undefined;
    const { crc, leadSize } = tail;
    // The stored entry's key, role and checksum name the bytes: another entry stored under the key later has another CRC.
    const id = `lead-${hashBytes(Buffer.from(`${recentKey(storage, resultKey)}\0${role}\0${crc}\0${leadSize}`))}`;
    const placeAt = (dest: string): "linked" | "copied" => {
      const again = storage.openLocal?.("result", resultKey);
      if (!again) throw new Error(`entry ${resultKey} is gone`);
      try {
        const now = readLeadTail((position, length) => again.read(position, length), again.size, resultKey);
        if (!now || now.crc !== crc || now.leadSize !== leadSize) throw new Error(`entry ${resultKey} was replaced`);
        // Bytes this daemon checksummed, in a file unchanged since: not read a third time. (Before a link, which moves its ctime.)
        const vouched = checksummed?.crc === crc && again.identity?.() === checksummed.identity;
        // A stored entry is never written in place: a link to it is its lead's bytes followed by the rest, for as long as it lasts.
        if (linkLead(again, now, dest, !vouched)) return "linked";
        if (vouched) copyVouchedLead(again, now, dest);
        else copyVerifiedLead(again, now, dest);
        return "copied";
      } finally {
        again.close();
      }
    };
    return { entry: tail.entry, role, source: { id, size: leadSize, placeAt } };
  }

  private indexEntry(
    call: Call,
    resultKey: string,
    stored: CacheEntry,
    direct: HitFacts["direct"],
    options: { keepExisting?: boolean },
    lead?: { role: string; source: CopiedOutputSource },
  ): void {
    const adapt = outputAdapter(call.project.engine, call.compiler, call.inv);
    const byRole = new Map(stored.outputs.map((o) => [o.role, o.data]));
    const written: WrittenOutput[] = [];
    for (const out of call.inv.outputs) {
      if (out.role === lead?.role) {
        written.push({ path: out.path, executable: out.executable === true, copied: lead.source });
        continue;
      }
      const data = byRole.get(out.role);
      if (!data && !out.optional) return;
      const adapted = data && (adapt ? adapt(out, data) : data);
      if (data && !adapted) return;
      if (adapted) written.push({ path: out.path, data: adapted, executable: out.executable === true });
    }
    this.indexLater(call, resultKey, stored, written, direct, options);
  }

  /** After the answer: lets the native client answer this same request itself while nothing it was decided on changes. */
  private indexLater(call: Call, resultKey: string, entry: CacheEntry, written: DaemonHit["written"], direct: HitFacts["direct"], options: { keepExisting?: boolean } = {}): void {
    // Not isUsed(): the tap guard's interceptor counts there.
    const pluginsWatchCalls = call.project.engine.hooks.callFinished.taps.length > 0;
    const facts: HitFacts = { ...call, pluginsWatchCalls, resultKey, entry, written, direct };
    setImmediate(() => this.index(facts, call.compilerPath, options));
  }

  /**
   * Writes the index entry, or counts why not. A source or header read while
   * it was still changing (saved or generated just before the build) cannot
   * be vouched for by that read. Such files are read again at once (an idle
   * chore runs after they settled), else once their racy window has passed
   * (racy-window.ts: tens of ms on a local file system that keeps
   * nanoseconds, two seconds elsewhere), and the entry is tried again: the
   * next build's call is still the client's.
   */
  private index(facts: HitFacts, compilerPath: string, options: { keepExisting?: boolean }, attempt = 0): void {
    const hit = indexableHit(facts);
    if (hit === undefined) return;
    const outcome = typeof hit === "string" ? hit : this.hitIndex!.record({ ...hit, compilerPath }, options);
    if (outcome === "recorded" || outcome === "kept-newer") {
      if (attempt > 0 && outcome === "recorded") this.stats.hitIndexRetried();
      return;
    }
    // Back-to-back hits of one call while its files settle: one second try is enough.
    const retryKey = `${facts.inv.sourceFile}\0${facts.resultKey}`;
    if (attempt === 0 && this.retrying.has(retryKey)) return;
    if (attempt < 2 && typeof hit !== "string" && SETTLING_SKIPS.has(outcome)) {
      this.retrying.add(retryKey);
      this.logger.debug("hit index: %s for %s; reading it again", outcome, facts.inv.sourceFile);
      const files = [{ path: hit.source.path, tokens: hit.source.tokens }, ...hit.headers.map((h) => ({ path: h.path, tokens: hit.headerTokens }))];
      const retry = async () => {
        this.retrying.delete(retryKey);
        for (const f of files) await this.hashes.settle(f.path, f.tokens);
        // A later call of the same request may have written its own entry meanwhile: that one stays.
        this.index(facts, compilerPath, { keepExisting: true }, attempt + 1);
      };
      const failed = (err: unknown) => this.logger.debug("hit index: another try failed: %s", (err as Error).message);
      // One at a time: after a cold build of fresh files every miss's entry comes here, and none may crowd out a call.
      const queued = () => void (this.retries = this.retries.then(retry).catch(failed));
      if (attempt === 0) queued();
      else setTimeout(queued, this.hashes.settleDelayMs(files)).unref();
      return;
    }
    this.logger.debug("hit index: not indexing %s (%s)", facts.inv.sourceFile, outcome);
    this.stats.hitIndexSkipped(outcome);
  }

  /** Keeps a freshly stored entry in memory, so the next call with its key reads nothing. */
  remember(storage: CacheStorage, resultKey: string, entry: CacheEntry): void {
    this.recent.set(recentKey(storage, resultKey), entry);
  }

  /** The entry of `resultKey` kept in memory, if any (read or written lately). */
  remembered(storage: CacheStorage, resultKey: string): CacheEntry | undefined {
    return this.recent.get(recentKey(storage, resultKey));
  }

  /** The entry stored under `resultKey` (remembered, else read from the storage); undefined when absent or refused. */
  async entry(storage: CacheStorage, resultKey: string): Promise<CacheEntry | undefined> {
    return this.remembered(storage, resultKey) ?? (await this.readEntry(storage, resultKey, false));
  }

  /** Forgets entries remembered in memory (after the storage was cleared). */
  forget(): void {
    this.recent.clear();
  }

  /** A stored blob that is not what its key promises: a miss, counted (an older format's only logged). */
  rejected(kind: "result" | "manifest", key: string, err: CorruptEntryError): void {
    if (err.code === "E_ENTRY_VERSION") {
      this.logger.debug("replacing %s %s of an older format: %s", kind, key, err.message);
      return;
    }
    const reason = err.code === "E_KEY_MISMATCH" ? "entry-key-mismatch" : "corrupt-entry";
    this.logger.warn("removing %s %s (%s): %s", kind, key, reason, err.message);
    this.stats.error(reason);
  }

  private async readEntry(storage: CacheStorage, resultKey: string, fallbackCopy: boolean): Promise<CacheEntry | undefined> {
    try {
      const raw = await (fallbackCopy ? readFallbackCopy(storage, resultKey) : storage.read("result", resultKey));
      if (!raw) return undefined;
      const entry = await decodeEntry(raw, resultKey);
      this.remember(storage, resultKey, entry);
      return entry;
    } catch (err) {
      if (!(err instanceof CorruptEntryError)) throw err;
      this.rejected("result", resultKey, err);
      await storage.remove("result", resultKey);
      return undefined;
    }
  }
}

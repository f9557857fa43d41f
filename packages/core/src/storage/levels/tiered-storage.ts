import type { BlobKind, CacheStorage, LevelStatsSnapshot, LocalBlob, StagedBlob, StorageUsage } from "../cache-storage.js";
import type { Logger } from "../../util/logger.js";
import type { GuardedLevel } from "./guarded-level.js";

/** True when `data` is a well-formed blob of `kind` stored under `key` (format version, integrity). */
export type BlobCheck = (kind: BlobKind, key: string, data: Buffer) => Promise<boolean>;

/** A level named in config that could not be created (plugin missing, bad options): shown in stats, never used. */
export interface UnavailableLevel {
  index: number;
  kind: string;
  readOnly: boolean;
  reason: string;
}

/**
 * An ordered list of cache levels seen as one storage. A read asks each level
 * in turn; a hit below the first is checked (a truncated or foreign blob is a
 * miss there) and copied to the writable levels above it in the background.
 * A write goes to every writable level at once. Level failures are misses.
 */
export class TieredStorage implements CacheStorage {
  readonly kind = "levels";
  readonly location: string;
  private readonly pending = new Set<Promise<unknown>>();
  /** Removals of corrupt blobs under way, by level, kind and key: a write-back of the good blob to that level waits for its removal. */
  private readonly removing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly levels: readonly GuardedLevel[],
    private readonly unavailable: readonly UnavailableLevel[],
    private readonly check: BlobCheck,
    private readonly logger: Logger,
  ) {
    this.location = levels.map((l) => `${l.storage.kind}:${l.storage.location}`).join(" > ");
  }

  async read(kind: BlobKind, key: string): Promise<Buffer | undefined> {
    for (let i = 0; i < this.levels.length; i++) {
      const level = this.levels[i]!;
      const r = await level.read(kind, key);
      if (!r.ok || !r.value) continue;
      // The first level's blobs are checked by their reader as before; lower ones before they travel up.
      if (i > 0 && !(await this.check(kind, key, r.value))) {
        level.stats.count("corrupt");
        this.logger.warn("cache level %d (%s) holds a corrupt %s %s; treated as a miss", i, level.storage.kind, kind, key);
        if (!level.readOnly) this.removeCorrupt(i, kind, key);
        continue;
      }
      if (i > 0) this.writeBack(i, kind, key, r.value);
      return r.value;
    }
    return undefined;
  }

  /**
   * Resolves once the local levels hold the blob; remote levels are written
   * in the background (see `settle`), so a lookup waiting for this store, or a
   * hit right after it, never waits for the network.
   */
  async *readLower(kind: BlobKind, key: string): AsyncGenerator<{ level: number; data: Buffer }> {
    for (let i = 1; i < this.levels.length; i++) {
      const level = this.levels[i]!;
      const r = await level.read(kind, key);
      if (!r.ok || !r.value) continue;
      if (!(await this.check(kind, key, r.value))) {
        level.stats.count("corrupt");
        if (!level.readOnly) this.removeCorrupt(i, kind, key);
        continue;
      }
      yield { level: i, data: r.value };
    }
  }

  writeAbove(level: number, kind: BlobKind, key: string, data: Buffer): void {
    this.writeBack(level, kind, key, data);
  }

  localFile(kind: BlobKind, key: string): string | undefined {
    return this.levels[0]?.storage.localFile?.(kind, key);
  }

  /** The first level's blob, counted as a hit there; undefined leaves the lookup to `read` (which counts a miss). */
  openLocal(kind: BlobKind, key: string): LocalBlob | undefined {
    const first = this.levels[0];
    const blob = first && !first.remote ? first.storage.openLocal?.(kind, key) : undefined;
    if (!blob) return undefined;
    first!.stats.count("hits");
    first!.stats.count("bytesRead", blob.size);
    return blob;
  }

  async readFirst(kind: BlobKind, key: string): Promise<Buffer | undefined> {
    const r = await this.levels[0]?.read(kind, key);
    return r?.ok ? r.value : undefined;
  }

  async writeFirst(kind: BlobKind, key: string, data: Buffer): Promise<void> {
    const first = this.levels[0];
    if (first && !first.readOnly) await first.write(kind, key, data, "store");
  }

  async write(kind: BlobKind, key: string, data: Buffer): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (const level of this.levels) {
      if (level.readOnly) continue;
      const written = level.write(kind, key, data, "store");
      if (level.remote) this.track(written);
      else writes.push(written);
    }
    await Promise.all(writes);
  }

  /** Only when the first level is the one writable level (a copy on disk serves no remote level), and can. */
  beginCopy(kind: BlobKind, source: string): StagedBlob | undefined {
    const first = this.levels[0];
    if (!first || first.readOnly || first.remote || this.levels.some((l, i) => i > 0 && !l.readOnly)) return undefined;
    const staged = first.storage.beginCopy?.(kind, source);
    if (!staged) return undefined;
    return {
      path: staged.path,
      size: staged.size,
      discard: () => staged.discard(),
      finish: async (key, tail) => {
        await staged.finish(key, tail);
        first.stats.count("writes");
        first.stats.count("bytesWritten", staged.size + tail.length);
      },
    };
  }

  async remove(kind: BlobKind, key: string): Promise<void> {
    await Promise.all(this.levels.filter((l) => !l.readOnly).map((l) => l.remove(kind, key)));
  }

  /** The usage of the first level (the local disk in the usual setup); remote levels are not scanned. */
  async usage(): Promise<StorageUsage> {
    await this.settle();
    const first = this.levels[0];
    return first ? first.storage.usage() : { sizeBytes: 0, entries: 0, maxSizeBytes: 0 };
  }

  /** Clears the writable levels. */
  async clear(): Promise<void> {
    await this.settle();
    await Promise.all(this.levels.filter((l) => !l.readOnly).map((l) => l.storage.clear()));
  }

  /** Waits for write-backs; the backends are closed by the registry that made them. */
  async close(): Promise<void> {
    await this.settle();
    for (const l of this.levels) l.shutdown();
  }

  levelStats(): LevelStatsSnapshot[] {
    const live = this.levels.map((l) => l.snapshot());
    const dead = this.unavailable.map((u): LevelStatsSnapshot => ({
      level: u.index,
      kind: u.kind,
      location: "",
      readOnly: u.readOnly,
      state: "unavailable",
      reason: u.reason,
      hits: 0,
      misses: 0,
      errors: 0,
      corrupt: 0,
      skippedTooLarge: 0,
      writes: 0,
      writeBacks: 0,
      bytesRead: 0,
      bytesWritten: 0,
      latencyMedianMs: null,
      latencyP99Ms: null,
    }));
    return [...live, ...dead].sort((a, b) => a.level - b.level);
  }

  resetLevelStats(): void {
    for (const l of this.levels) l.stats.reset();
  }

  /** Resolves when every remote store and write-back started so far is done. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private writeBack(found: number, kind: BlobKind, key: string, data: Buffer): void {
    this.levels.slice(0, found).forEach((level, i) => {
      if (level.readOnly) return;
      // Started after that level's removal of its corrupt copy ends, which would otherwise remove the good one too.
      const removal = this.removing.get(removalKey(i, kind, key));
      this.track(removal ? removal.then(() => level.write(kind, key, data, "write-back")) : level.write(kind, key, data, "write-back"));
    });
  }

  private removeCorrupt(level: number, kind: BlobKind, key: string): void {
    const id = removalKey(level, kind, key);
    const removal: Promise<unknown> = this.levels[level]!.remove(kind, key)
      .catch(() => undefined)
      .finally(() => {
        if (this.removing.get(id) === removal) this.removing.delete(id);
      });
    this.removing.set(id, removal);
    this.track(removal);
  }

  private track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}

function removalKey(level: number, kind: BlobKind, key: string): string {
  return `${level}\0${kind}\0${key}`;
}

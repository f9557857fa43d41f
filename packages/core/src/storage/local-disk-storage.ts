import { chmodSync, closeSync, constants, copyFileSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { lstat, lutimes, readdir, rename, rm, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { EntryKeyMismatchError, RepriseError } from "../util/errors.js";
import { ensurePrivateCacheDir } from "./cache-root.js";
import { openedBlob, openRegularFile, procFdLinks, readRegularFile } from "./blob-file.js";
import { silentLogger, type Logger } from "../util/logger.js";
import type { BlobKind, CacheStorage, LocalBlob, StagedBlob, StorageSettings, StorageUsage } from "./cache-storage.js";
import { tempSuffix } from "../util/temp-suffix.js";

const KINDS: readonly BlobKind[] = ["result", "manifest"];
const KEY_PATTERN = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = ".tmp-";
/** Where `beginCopy` makes its copies, beside the shard folders (never a shard: not two hex digits). */
const STAGING_FOLDER = ".staging";
/** What `clear` keeps: the kind folders and their shards (`results`, `results/ab`). */
const KEPT_FOLDER = new RegExp(`^(${KINDS.map((k) => `${k}s`).join("|")})(/[0-9a-f]{2})?$`);
const STALE_TEMP_MS = 60 * 60 * 1000;
/** Eviction stops below this fraction of the limit, so it does not run again on the very next write. */
const EVICT_TO = 0.9;
/**
 * An eviction candidate whose mtime is this much newer than our own last use
 * was read or rewritten by another process sharing the directory: it is kept.
 * The slack absorbs filesystem timestamp granularity.
 */
const FOREIGN_USE_SLACK_MS = 2000;
/**
 * A read bumps the file's mtime (recency that survives restarts and is seen by
 * other processes) only when the last bump is older than this: an entry hit
 * again and again costs no syscalls, and LRU order needs no finer grain.
 */
const MTIME_BUMP_INTERVAL_MS = 60_000;
/**
 * Up to this size a blob is written synchronously: open, write, close and
 * rename through the thread pool cost each miss four round trips (about
 * 0.5 ms of CPU per blob, measured), while the write itself takes microseconds.
 */
const SYNC_WRITE_MAX = 1024 * 1024;

interface IndexEntry {
  readonly size: number;
  /** Epoch ms of the last read or write known to this process (the file's mtime after a scan). */
  readonly lastUsed: number;
  /** The file's mtime as this process last set or saw it. */
  readonly diskMtime: number;
}

export interface LocalDiskStorageOptions {
  logger?: Logger;
}

/**
 * Blobs as files under `<dir>/<kind>s/<key[0..2]>/<key>`, written atomically
 * (temp file + rename) so any number of processes can share the directory.
 *
 * Only the user's own cache is used: the root is created 0700 and checked on
 * every read and write (another user's, or writable by group or others: an
 * UnsafeCacheDirError), the folders inside it once per process, and no link
 * is ever followed (blobs are opened with O_NOFOLLOW; a link found in place of
 * a blob is removed and reported as EntryKeyMismatchError).
 *
 * Size accounting is an in-memory LRU index (Map order = recency), built on
 * first use by scanning the directory and ordered by mtime; reads bump the
 * file's mtime so recency survives restarts. Each process only knows the files
 * it scanned, wrote or read, so with several processes on one directory the
 * limit is approximate; eviction re-checks each candidate's mtime so it does
 * not remove what another process used recently.
 */
export class LocalDiskStorage implements CacheStorage {
  readonly kind = "local";
  readonly location: string;
  private readonly dir: string;
  private readonly maxSizeBytes: number;
  private readonly logger: Logger;

  /** Relative path ("results/ab/ab12…") → entry, least recently used first. */
  private index = new Map<string, IndexEntry>();
  private totalBytes = 0;
  private indexLoading: Promise<void> | undefined;
  private indexReady = false;
  private evicting = false;
  /** Background bookkeeping (index updates, mtime bumps, eviction) that close() and usage() wait for. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Kind and shard folders verified to be plain private directories. */
  private readonly verifiedDirs = new Set<string>();

  constructor(settings: StorageSettings, options: LocalDiskStorageOptions = {}) {
    this.dir = resolve(settings.dir);
    this.location = this.dir;
    this.maxSizeBytes = settings.maxSizeBytes;
    this.logger = options.logger ?? silentLogger;
  }

  async read(kind: BlobKind, key: string): Promise<Buffer | undefined> {
    const rel = relativePath(kind, key);
    const file = join(this.dir, rel);
    let data: Buffer;
    try {
      if (!ensurePrivateCacheDir(this.dir, false, true) || !this.verifyFolders(rel, false)) {
        this.withIndex(() => this.dropEntry(rel));
        return undefined;
      }
      // Synchronous: a few microseconds instead of four thread-pool round trips, on every hit.
      data = readRegularFile(file);
    } catch (err) {
      if (isLink(err)) {
        await unlink(file).catch(() => undefined);
        this.withIndex(() => this.dropEntry(rel));
        throw new EntryKeyMismatchError(`${file} is a link or not a regular file, so not a cache entry; removed`);
      }
      if (!isMissing(err)) throw err;
      this.withIndex(() => this.dropEntry(rel));
      return undefined;
    }
    this.used(rel, file, data.length);
    return data;
  }

  openLocal(kind: BlobKind, key: string): LocalBlob | undefined {
    if (!procFdLinks()) return undefined;
    const rel = relativePath(kind, key);
    const file = join(this.dir, rel);
    let opened: { fd: number; size: number };
    try {
      if (!ensurePrivateCacheDir(this.dir, false, true) || !this.verifyFolders(rel, false)) return undefined;
      opened = openRegularFile(file);
    } catch {
      // Absent, a link, or unreadable: `read` finds out and does what each case needs.
      return undefined;
    }
    this.used(rel, file, opened.size);
    return openedBlob(opened.fd, opened.size, file);
  }

  /** A read of `rel` (`size` bytes) for eviction's order; the file's mtime is bumped now and then (see MTIME_BUMP_INTERVAL_MS). */
  private used(rel: string, file: string, size: number): void {
    this.withIndex(() => {
      const now = Date.now();
      const diskMtime = this.index.get(rel)?.diskMtime ?? 0;
      if (now - diskMtime < MTIME_BUMP_INTERVAL_MS) {
        this.setEntry(rel, { size, lastUsed: now, diskMtime });
        return;
      }
      const entry = this.setEntry(rel, { size, lastUsed: now, diskMtime: now });
      const when = new Date(now);
      this.track(
        lutimes(file, when, when).catch((err: unknown) => {
          if (isMissing(err)) this.dropEntryIf(rel, entry);
          else this.logger.debug("could not update mtime of %s: %s", file, (err as Error).message);
        }),
      );
    });
  }

  localFile(kind: BlobKind, key: string): string {
    return join(this.dir, relativePath(kind, key));
  }

  async write(kind: BlobKind, key: string, data: Buffer): Promise<void> {
    const rel = relativePath(kind, key);
    await this.writeAtomically(rel, data);
    const size = data.length;
    const now = Date.now();
    this.withIndex(() => this.setEntry(rel, { size, lastUsed: now, diskMtime: now }));
  }

  beginCopy(kind: BlobKind, source: string): StagedBlob | undefined {
    if (process.platform === "win32") return undefined;
    const staging = `${relativePath(kind, "0".repeat(64)).split("/")[0]}/${STAGING_FOLDER}`;
    const name = `${TEMP_PREFIX}copy.${tempSuffix()}`;
    const temp = join(this.dir, staging, name);
    try {
      if (!ensurePrivateCacheDir(this.dir, true, true) || !this.verifyFolders(`${staging}/${name}`, true)) return undefined;
      const before = statSync(source);
      if (!before.isFile()) return undefined;
      // EXCL: a new file, never one put there; FICLONE: a reflink where the file system can, else an in-kernel copy.
      copyFileSync(source, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      chmodSync(temp, 0o600);
      const after = statSync(source);
      const copied = statSync(temp).size;
      if (after.ino !== before.ino || after.size !== before.size || after.mtimeMs !== before.mtimeMs || copied !== before.size) {
        rmSync(temp, { force: true });
        return undefined;
      }
      return this.staged(kind, temp, copied);
    } catch (err) {
      rmSync(temp, { force: true });
      this.logger.debug("could not copy %s into %s: %s", source, this.dir, (err as Error).message);
      return undefined;
    }
  }

  private staged(kind: BlobKind, temp: string, size: number): StagedBlob {
    let open = true;
    const discard = () => {
      if (open) rmSync(temp, { force: true });
      open = false;
    };
    const finish = async (key: string, tail: Buffer) => {
      if (!open) throw new Error(`cache copy ${temp} was already finished or discarded`);
      const rel = relativePath(kind, key);
      try {
        const fd = openSync(temp, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
        try {
          for (let done = 0; done < tail.length; ) done += writeSync(fd, tail, done, tail.length - done);
        } finally {
          closeSync(fd);
        }
        ensurePrivateCacheDir(this.dir, true, true);
        this.verifyFolders(rel, true);
        renameSync(temp, join(this.dir, rel));
        open = false;
      } finally {
        discard();
      }
      const now = Date.now();
      this.withIndex(() => this.setEntry(rel, { size: size + tail.length, lastUsed: now, diskMtime: now }));
    };
    return { path: temp, size, finish, discard };
  }

  async remove(kind: BlobKind, key: string): Promise<void> {
    const rel = relativePath(kind, key);
    if (!ensurePrivateCacheDir(this.dir, false, true) || !this.verifyFolders(rel, false)) {
      this.withIndex(() => this.dropEntry(rel));
      return;
    }
    try {
      await unlink(join(this.dir, rel));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    this.withIndex(() => this.dropEntry(rel));
  }

  async usage(): Promise<StorageUsage> {
    await this.ensureIndex();
    await this.settle();
    return { sizeBytes: this.totalBytes, entries: this.index.size, maxSizeBytes: this.maxSizeBytes };
  }

  async clear(): Promise<void> {
    // A scan finishing after the removal would bring back the old index.
    await this.indexLoading?.catch(() => undefined);
    if (!ensurePrivateCacheDir(this.dir, false, true)) return;
    await Promise.all(KINDS.map((k) => emptyKindFolder(join(this.dir, `${k}s`))));
    // The kind and shard folders stay (each cold miss after a clear would otherwise make its two again); the rest went.
    for (const folder of this.verifiedDirs) if (!KEPT_FOLDER.test(folder)) this.verifiedDirs.delete(folder);
    this.index = new Map();
    this.totalBytes = 0;
    this.indexReady = true;
    this.indexLoading = Promise.resolve();
  }

  async close(): Promise<void> {
    await this.settle();
  }

  /**
   * The kind and shard folders of `rel` are plain directories of the user's,
   * closed to others (checked once per process: inside a root only the user
   * can write, they cannot change afterwards). False when absent and not created.
   */
  private verifyFolders(rel: string, create: boolean): boolean {
    const shard = dirname(rel);
    if (this.verifiedDirs.has(shard)) return true;
    for (const folder of [dirname(shard), shard]) {
      if (this.verifiedDirs.has(folder)) continue;
      if (!ensurePrivateCacheDir(join(this.dir, folder), create)) return false;
      this.verifiedDirs.add(folder);
    }
    return true;
  }

  /** Temp file (O_EXCL: never through a link) + rename, which replaces a link rather than following it. */
  private async writeAtomically(rel: string, data: Buffer): Promise<void> {
    const file = join(this.dir, rel);
    const temp = join(dirname(file), `${TEMP_PREFIX}${basename(file)}.${tempSuffix()}`);
    for (let attempt = 0; ; attempt++) {
      try {
        ensurePrivateCacheDir(this.dir, true, true);
        this.verifyFolders(rel, true);
        if (data.length <= SYNC_WRITE_MAX && process.platform !== "win32") {
          writeNewFileSync(temp, data);
          renameSync(temp, file);
        } else {
          await writeFile(temp, data, { mode: 0o600, flag: "wx" });
          await renameWithRetry(temp, file);
        }
        return;
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        // clear() (of any process) may remove the folders under us: check and create them again.
        if (isMissing(err) && attempt < 3) {
          this.verifiedDirs.clear();
          continue;
        }
        throw err;
      }
    }
  }

  private ensureIndex(): Promise<void> {
    this.indexLoading ??= this.scan().then(
      () => {
        this.indexReady = true;
      },
      (err: unknown) => {
        this.indexLoading = undefined;
        throw err;
      },
    );
    return this.indexLoading;
  }

  /**
   * Applies an index update now, or once the first scan is done. Updates run
   * in the order their file operations completed, so the index follows the disk.
   */
  private withIndex(update: () => void): void {
    if (this.indexReady) update();
    else this.track(this.ensureIndex().then(update));
  }

  private async scan(): Promise<void> {
    const found = await listBlobFiles(this.dir);
    const now = Date.now();
    const blobs: [string, IndexEntry][] = [];
    for (const f of found) {
      const mtime = f.stats.mtimeMs;
      const [, shard, name = ""] = f.path.split("/");
      if (name.startsWith(TEMP_PREFIX)) {
        if (now - mtime > STALE_TEMP_MS) this.track(unlink(join(this.dir, f.path)).catch(() => undefined));
      } else if (KEY_PATTERN.test(name) && shard === name.slice(0, 2)) {
        blobs.push([f.path, { size: f.stats.size, lastUsed: mtime, diskMtime: mtime }]);
      }
    }
    blobs.sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    this.index = new Map(blobs);
    this.totalBytes = blobs.reduce((sum, [, e]) => sum + e.size, 0);
    this.logger.debug("indexed %d blobs, %d bytes in %s", this.index.size, this.totalBytes, this.dir);
    this.maybeEvict();
  }

  /** Makes `rel` the most recently used entry. */
  private setEntry(rel: string, entry: IndexEntry): IndexEntry {
    const old = this.index.get(rel);
    if (old) {
      this.totalBytes -= old.size;
      this.index.delete(rel);
    }
    this.index.set(rel, entry);
    this.totalBytes += entry.size;
    this.maybeEvict();
    return entry;
  }

  private dropEntry(rel: string): void {
    const old = this.index.get(rel);
    if (!old) return;
    this.totalBytes -= old.size;
    this.index.delete(rel);
  }

  /** Drops `rel` only if nothing replaced or bumped it since `entry` was looked at. */
  private dropEntryIf(rel: string, entry: IndexEntry): void {
    if (this.index.get(rel) === entry) this.dropEntry(rel);
  }

  private maybeEvict(): void {
    // A limit that is not a positive number (0, as in ccache) means no limit.
    if (this.evicting || !(this.maxSizeBytes > 0) || this.totalBytes <= this.maxSizeBytes) return;
    this.evicting = true;
    this.track(
      this.evict()
        .catch((err: unknown) => this.logger.warn("cache eviction in %s failed: %s", this.dir, (err as Error).message))
        .finally(() => {
          this.evicting = false;
          this.maybeEvict();
        }),
    );
  }

  private async evict(): Promise<void> {
    const target = this.maxSizeBytes * EVICT_TO;
    // Each entry gets at most one foreign-use check per run, so the loop ends.
    let checksLeft = this.index.size;
    let removed = 0;
    let freed = 0;
    while (this.totalBytes > target) {
      const oldest = this.index.entries().next();
      if (oldest.done) break;
      const [rel, entry] = oldest.value;
      const file = join(this.dir, rel);
      if (checksLeft-- > 0) {
        let mtimeMs: number;
        let size: number;
        try {
          ({ mtimeMs, size } = await lstat(file));
        } catch (err) {
          if (!isMissing(err)) this.logger.warn("cannot stat %s: %s", file, (err as Error).message);
          this.dropEntryIf(rel, entry);
          continue;
        }
        if (this.index.get(rel) !== entry) continue;
        if (mtimeMs > entry.lastUsed + FOREIGN_USE_SLACK_MS) {
          this.setEntry(rel, { size, lastUsed: mtimeMs, diskMtime: mtimeMs });
          continue;
        }
      }
      try {
        await unlink(file);
        removed++;
        freed += entry.size;
      } catch (err) {
        // Not retried: an entry that cannot be removed must not stall eviction forever.
        if (!isMissing(err)) this.logger.warn("cannot evict %s: %s", file, (err as Error).message);
      }
      this.dropEntryIf(rel, entry);
    }
    this.logger.debug("evicted %d blobs (%d bytes) from %s; %d bytes left", removed, freed, this.dir, this.totalBytes);
  }

  private track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work
      .catch((err: unknown) => this.logger.warn("cache bookkeeping in %s failed: %s", this.dir, (err as Error).message))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

export function createLocalDiskStorage(settings: StorageSettings, options?: LocalDiskStorageOptions): CacheStorage {
  return new LocalDiskStorage(settings, options);
}

/** The blob's path relative to the cache dir; validates kind and key so neither can steer the path. */
function relativePath(kind: BlobKind, key: string): string {
  if (!KINDS.includes(kind)) throw new RepriseError(`invalid blob kind ${JSON.stringify(String(kind).slice(0, 40))}`, "E_STORAGE_KEY");
  if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
    throw new RepriseError(`invalid cache key ${JSON.stringify(String(key).slice(0, 80))}`, "E_STORAGE_KEY", "keys are 64 lowercase hex characters");
  }
  return `${kind}s/${key.slice(0, 2)}/${key}`;
}

/** The whole file, refusing a link in its place (ELOOP) and anything but a regular file. */
/** Creates `file` (O_EXCL: never through a link) holding `data`. */
function writeNewFileSync(file: string, data: Buffer): void {
  const fd = openSync(file, "wx", 0o600);
  try {
    for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
  } finally {
    closeSync(fd);
  }
}

function isLink(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ELOOP";
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Windows refuses to rename over a file another process has open; that passes quickly. */
async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (process.platform !== "win32" || attempt >= 5 || !(code === "EPERM" || code === "EACCES" || code === "EBUSY")) throw err;
      await new Promise((r) => setTimeout(r, 10 * (attempt + 1)));
    }
  }
}

/**
 * Removes everything in a kind's folder but its shard folders, which are
 * emptied (what is in them, links and folders too, goes whole).
 */
async function emptyKindFolder(top: string): Promise<void> {
  const gone = (path: string) => rm(path, { recursive: true, force: true, maxRetries: 3 });
  const entries = await readdir(top, { withFileTypes: true }).catch(() => []);
  await Promise.all(
    entries.map(async (e) => {
      const path = join(top, e.name);
      if (!e.isDirectory() || !/^[0-9a-f]{2}$/.test(e.name)) return gone(path);
      await Promise.all((await readdir(path).catch(() => [])).map((name) => gone(join(path, name))));
    }),
  );
}

/**
 * Every regular file two levels below each kind's folder (`results/ab/<key>`),
 * with its lstat; links are neither followed nor listed, unreadable folders
 * are passed over. Plain readdir: a glob library cost each daemon start ~60
 * modules to load for this one fixed-depth listing.
 */
async function listBlobFiles(root: string): Promise<{ path: string; stats: { mtimeMs: number; size: number } }[]> {
  const found: { path: string; stats: { mtimeMs: number; size: number } }[] = [];
  const entries = async (dir: string) => readdir(join(root, dir), { withFileTypes: true }).catch(() => []);
  for (const kind of KINDS) {
    const top = `${kind}s`;
    for (const shard of await entries(top)) {
      if (!shard.isDirectory()) continue;
      const dir = `${top}/${shard.name}`;
      const files = (await entries(dir)).filter((f) => f.isFile());
      const stats = await Promise.all(files.map((f) => lstat(join(root, dir, f.name)).catch(() => undefined)));
      files.forEach((f, i) => {
        const st = stats[i];
        if (st?.isFile()) found.push({ path: `${dir}/${f.name}`, stats: { mtimeMs: st.mtimeMs, size: st.size } });
      });
    }
  }
  return found;
}

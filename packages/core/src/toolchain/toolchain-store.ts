import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { chmod, link, mkdir, open, rm, symlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { hashBytes } from "../hashing/key-hasher.js";
import { ToolchainArchiveError } from "./errors.js";
import { DEFAULT_ARCHIVE_LIMITS, readArchiveFile, scanToolchainArchive, type ArchiveEntry, type ArchiveLimits } from "./toolchain-archive.js";
import type { ToolchainManifest } from "./types.js";

/**
 * Unpacked toolchains, by content id, in one directory:
 *
 *   <dir>/<id>/root/…        the toolchain (its root is the sandbox's `/`)
 *   <dir>/<id>/meta.json     manifest and unpacked size
 *   <dir>/<id>/used          its mtime is the last use (LRU)
 *   <dir>/.tmp/, .trash/     unpacking in progress, evicted toolchains being removed
 *
 * An archive is checked against its id (the hash of its bytes) and every
 * member is checked before it is written (see `scanToolchainArchive`); it is
 * unpacked into `.tmp` and renamed into place, so `<dir>/<id>` only ever
 * holds a complete toolchain. Two callers wanting the same toolchain at once
 * share one unpacking in this process; across processes the first rename
 * wins and the other copy is discarded.
 *
 * Absolute symlink targets are rewritten relative to the link's directory
 * (`/lib/x/ld.so` at `usr/lib64/ld.so` becomes `../../lib/x/ld.so`): inside
 * the sandbox both mean the same file, and on this machine no link of a
 * toolchain points outside its root.
 *
 * The size limit counts unpacked bytes. Past it, the least recently used
 * toolchains are removed — never one leased (`acquire` … `release`), being
 * unpacked, or used within `evictionGraceMs` (jobs of other callers that did
 * not take a lease).
 */

export interface ToolchainStoreOptions {
  dir: string;
  /** Most unpacked bytes kept (default 4 GiB). A single larger toolchain is still unpacked. */
  maxSizeBytes?: number;
  limits?: Partial<ArchiveLimits>;
  /** Toolchains used this recently are not evicted (default 15 minutes, longer than a job may run). */
  evictionGraceMs?: number;
}

/** An archive: its bytes, the path of the file, or a function giving either (called only if the toolchain must be unpacked). */
export type ArchiveSource = Buffer | string | (() => Promise<Buffer | string>);

export interface ToolchainLease {
  id: string;
  /** The unpacked toolchain: mount it as the sandbox's root. */
  root: string;
  manifest: ToolchainManifest;
  /** Lets the store evict it again. Idempotent. */
  release(): void;
}

export interface StoredToolchain {
  id: string;
  unpackedBytes: number;
  lastUsed: number;
}

interface Meta {
  id: string;
  unpackedBytes: number;
  manifest: ToolchainManifest;
}

const ID_PATTERN = /^[0-9a-f]{64}$/;
const DEFAULT_MAX_SIZE = 4 * 1024 ** 3;
const DEFAULT_GRACE_MS = 15 * 60_000;
const STALE_TMP_MS = 60 * 60_000;

export class ToolchainStore {
  readonly dir: string;
  readonly maxSizeBytes: number;
  private readonly limits: ArchiveLimits;
  private readonly graceMs: number;
  private readonly unpacking = new Map<string, Promise<Meta>>();
  private readonly leases = new Map<string, number>();
  /**
   * Each toolchain's metadata once read. It is written before the toolchain's
   * directory is renamed into place and never changed after (the id is the
   * hash of the archive), so while `<id>` exists it is what was read: a job's
   * acquire and every heartbeat's listing need no read and parse of it.
   */
  private readonly metas = new Map<string, Meta>();

  constructor(options: ToolchainStoreOptions) {
    this.dir = options.dir;
    this.maxSizeBytes = options.maxSizeBytes ?? DEFAULT_MAX_SIZE;
    this.limits = { ...DEFAULT_ARCHIVE_LIMITS, ...options.limits };
    this.graceMs = options.evictionGraceMs ?? DEFAULT_GRACE_MS;
  }

  /** Where the toolchain `id` is (or would be) unpacked. */
  rootOf(id: string): string {
    return join(this.dir, checkId(id), "root");
  }

  has(id: string): boolean {
    return existsSync(join(this.dir, checkId(id), "meta.json"));
  }

  /**
   * The unpacked toolchain `id`, unpacking `source` first if it is not there.
   * Kept from eviction until `release()`.
   */
  async acquire(id: string, source: ArchiveSource): Promise<ToolchainLease> {
    checkId(id);
    let pending = this.unpacking.get(id);
    if (!pending) {
      pending = this.unpackIfNeeded(id, source).finally(() => this.unpacking.delete(id));
      this.unpacking.set(id, pending);
    }
    const meta = await pending;
    this.leases.set(id, (this.leases.get(id) ?? 0) + 1);
    this.touch(id);
    let released = false;
    const lease: ToolchainLease = {
      id,
      root: this.rootOf(id),
      manifest: meta.manifest,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.leases.get(id) ?? 1) - 1;
        if (n <= 0) this.leases.delete(id);
        else this.leases.set(id, n);
      },
    };
    try {
      await this.evict();
    } catch {
      // Eviction is housekeeping: a failure must not fail the job.
    }
    return lease;
  }

  /** Like `acquire` without a lease: the root, protected from eviction only by the grace period. */
  async ensure(id: string, source: ArchiveSource): Promise<string> {
    const lease = await this.acquire(id, source);
    lease.release();
    return lease.root;
  }

  /** The manifest of an unpacked toolchain. */
  manifest(id: string): ToolchainManifest | undefined {
    return this.presentMeta(id)?.manifest;
  }

  list(): StoredToolchain[] {
    if (!existsSync(this.dir)) return [];
    const out: StoredToolchain[] = [];
    const names = readdirSync(this.dir);
    for (const name of names) {
      if (!ID_PATTERN.test(name)) continue;
      const meta = this.metas.get(name) ?? this.readMeta(name);
      if (!meta) continue;
      out.push({ id: name, unpackedBytes: meta.unpackedBytes, lastUsed: this.lastUsed(name) });
    }
    if (this.metas.size > out.length) {
      const present = new Set(names);
      for (const id of this.metas.keys()) if (!present.has(id)) this.metas.delete(id);
    }
    return out;
  }

  /** Removes least recently used toolchains until the store fits its limit; returns the ids removed. */
  async evict(): Promise<string[]> {
    const all = this.list();
    let total = all.reduce((n, t) => n + t.unpackedBytes, 0);
    const removed: string[] = [];
    if (total > this.maxSizeBytes) {
      const now = Date.now();
      for (const t of all.sort((a, b) => a.lastUsed - b.lastUsed)) {
        if (total <= this.maxSizeBytes) break;
        if (this.leases.has(t.id) || this.unpacking.has(t.id) || now - t.lastUsed < this.graceMs) continue;
        await this.remove(t.id);
        total -= t.unpackedBytes;
        removed.push(t.id);
      }
    }
    await this.sweep();
    return removed;
  }

  /** Removes one toolchain (moved aside first, so its path never shows a half-deleted tree). */
  async remove(id: string): Promise<void> {
    const from = join(this.dir, checkId(id));
    const trash = join(this.dir, ".trash", `${id}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(this.dir, ".trash"), { recursive: true });
    this.metas.delete(id);
    try {
      renameSync(from, trash);
    } catch {
      return;
    }
    await rm(trash, { recursive: true, force: true });
  }

  private async sweep(): Promise<void> {
    for (const sub of [".trash", ".tmp"]) {
      const d = join(this.dir, sub);
      if (!existsSync(d)) continue;
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        try {
          if (sub === ".trash" || Date.now() - statSync(p).mtimeMs > STALE_TMP_MS) await rm(p, { recursive: true, force: true });
        } catch {
          // another process got there first
        }
      }
    }
  }

  private readMeta(id: string): Meta | undefined {
    try {
      const meta = JSON.parse(readFileSync(join(this.dir, id, "meta.json"), "utf8")) as Meta;
      this.metas.set(id, meta);
      return meta;
    } catch {
      this.metas.delete(id);
      return undefined;
    }
  }

  /** The metadata of the toolchain `id` if it is unpacked here: a `stat` when it was read before. */
  private presentMeta(id: string): Meta | undefined {
    const known = this.metas.get(id);
    if (known && existsSync(join(this.dir, id, "meta.json"))) return known;
    return this.readMeta(id);
  }

  private lastUsed(id: string): number {
    try {
      return statSync(join(this.dir, id, "used")).mtimeMs;
    } catch {
      return 0;
    }
  }

  private touch(id: string): void {
    const p = join(this.dir, id, "used");
    const now = new Date();
    try {
      utimesSync(p, now, now);
    } catch {
      try {
        writeFileSync(p, "");
      } catch {
        // the toolchain was just evicted by another process; the caller still has its root until it runs
      }
    }
  }

  private async unpackIfNeeded(id: string, source: ArchiveSource): Promise<Meta> {
    const existing = this.presentMeta(id);
    if (existing) return existing;
    const given = typeof source === "function" ? await source() : source;
    const label = typeof given === "string" ? given : `toolchain ${id.slice(0, 12)}`;
    const bytes = typeof given === "string" ? await readArchiveFile(given, this.limits) : given;
    const actual = hashBytes(bytes);
    if (actual !== id) throw new ToolchainArchiveError(label, undefined, `its content id is ${actual}, not the expected ${id}`);

    mkdirSync(join(this.dir, ".tmp"), { recursive: true });
    const tmp = join(this.dir, ".tmp", `${id}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    const root = join(tmp, "root");
    mkdirSync(root, { recursive: true, mode: 0o755 });
    try {
      const dirs: ArchiveEntry[] = [];
      const scanned = await scanToolchainArchive(bytes, label, this.limits, (entry, data) => writeEntry(root, entry, data, dirs));
      // Directory modes last: a read-only directory would stop its own children being written.
      for (const d of dirs) await chmod(join(root, d.name), 0o755);
      const meta: Meta = { id, unpackedBytes: scanned.unpackedBytes, manifest: scanned.manifest };
      writeFileSync(join(tmp, "meta.json"), JSON.stringify(meta));
      writeFileSync(join(tmp, "used"), "");
      try {
        renameSync(tmp, join(this.dir, id));
      } catch (err) {
        const won = this.readMeta(id);
        if (!won) throw err;
        await rm(tmp, { recursive: true, force: true });
        return won;
      }
      return meta;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
}

function checkId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new ToolchainArchiveError(id, undefined, "not a toolchain id (64 hex digits)");
  return id;
}

/**
 * Writes one checked member under `root`. Parents are created as plain
 * directories (the scan has made sure no member lies under a link or a file),
 * files are created exclusively (never through an existing path).
 */
async function writeEntry(root: string, entry: ArchiveEntry, data: AsyncIterable<Buffer> | undefined, dirs: ArchiveEntry[]): Promise<void> {
  const target = join(root, entry.name);
  const parent = posix.dirname(entry.name);
  if (parent !== ".") await mkdir(join(root, parent), { recursive: true, mode: 0o755 });
  switch (entry.type) {
    case "directory":
      await mkdir(target, { recursive: true, mode: 0o755 });
      dirs.push(entry);
      return;
    case "symlink":
      await symlink(relativeLinkTarget(entry.name, entry.linkTarget!), target);
      return;
    case "link":
      await link(join(root, entry.linkTarget!), target);
      return;
    case "file": {
      const fh = await open(target, "wx", 0o600);
      try {
        for await (const chunk of data!) await fh.write(chunk);
      } finally {
        await fh.close();
      }
      await chmod(target, normalisedFileMode(entry.mode));
      return;
    }
  }
}

/**
 * The mode a toolchain file gets in the store, whatever the archive says:
 * 0755 if anyone may execute it, else 0644. Nobody but the owner may write,
 * and no setuid, setgid or sticky bit survives (an archive's 0777 or 04755
 * would otherwise reach the sandbox's root).
 */
export function normalisedFileMode(archiveMode: number): number {
  return archiveMode & 0o111 ? 0o755 : 0o644;
}

/** An absolute link target made relative to the link's directory, with the toolchain root as `/`. */
export function relativeLinkTarget(linkName: string, target: string): string {
  if (!target.startsWith("/")) return target;
  const depth = linkName.split("/").length - 1;
  const rest = target.replace(/^\/+/, "");
  const up = "../".repeat(depth);
  return up + rest || ".";
}

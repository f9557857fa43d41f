import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Engine } from "../engine/engine.js";
import type { CompilerInfo } from "../engine/types.js";
import { hashBytes } from "../hashing/key-hasher.js";
import type { ToolchainProvider } from "../hermetic/hermetic-compiler.js";
import { silentLogger, type Logger } from "../util/logger.js";
import { contentDigest, resolvedByContent } from "./content-identity.js";
import { describeToolchain } from "./package.js";
import { hostPath } from "./root-path.js";
import { buildManifest, buildToolchainArchive } from "./toolchain-archive.js";
import { ToolchainStore, type ToolchainLease, type ToolchainStoreOptions } from "./toolchain-store.js";
import type { ToolchainManifest } from "./types.js";

/**
 * Packaged toolchains for hermetic mode (and later the farm): each compiler
 * is packaged once per identity and path, identified by content (`cc` and
 * `gcc` give one toolchain: see `identifiedByContent`), the archive kept on
 * disk once per content id,
 *
 *   <dir>/toolchains/archives/<id>.tar.gz    the archive (id: hash of its bytes)
 *   <dir>/toolchains/archives/<key>.json     per compiler (key: hash of identity and path): its id and what it was made from
 *   <dir>/toolchains/store/                       unpacked toolchains (ToolchainStore)
 *
 * and unpacked on first use. A kept archive is reused only while the files
 * it was made from are unchanged (same type, size and mtime, same link
 * text): the identity covers the compiler's own binaries, not the assembler
 * or the shared libraries, which a system update may replace.
 */

export interface ToolchainCacheOptions {
  /** Reprise's cache directory (settings.dir). */
  dir: string;
  /** Options of the unpacked store (size limit, archive limits, eviction grace). */
  store?: Omit<ToolchainStoreOptions, "dir">;
  logger?: Logger;
}

export interface PackagedToolchain {
  id: string;
  archivePath: string;
  archiveBytes: number;
  unpackedBytes: number;
  manifest: ToolchainManifest;
}

/** 2: archives by content id (1 kept one archive per compiler name). */
const FORMAT_VERSION = 2;

interface ArchiveRecord extends PackagedToolchain {
  formatVersion: typeof FORMAT_VERSION;
  sysroot: string;
  sources: { path: string; type: string; size: number; mtimeMs: number; linkTarget?: string }[];
}

export class ToolchainCache implements ToolchainProvider {
  readonly store: ToolchainStore;
  readonly archiveDir: string;
  private readonly logger: Logger;
  private readonly packaging = new Map<string, Promise<ArchiveRecord>>();

  constructor(
    private readonly engine: Engine,
    options: ToolchainCacheOptions,
  ) {
    this.archiveDir = join(options.dir, "toolchains", "archives");
    this.store = new ToolchainStore({ ...options.store, dir: join(options.dir, "toolchains", "store") });
    this.logger = options.logger ?? silentLogger;
  }

  /** The archive of `compiler`'s toolchain, packaged now if there is no current one. */
  async archive(compiler: CompilerInfo): Promise<PackagedToolchain> {
    const { sources: _s, sysroot: _r, formatVersion: _f, ...packaged } = await this.record(compiler);
    return packaged;
  }

  /** The unpacked toolchain of `compiler` (hermetic mode's ToolchainProvider); `compilerPath` is where it holds the compiler. */
  async prepare(compiler: CompilerInfo): Promise<{ id: string; root: string; compilerPath: string }> {
    const lease = await this.acquire(compiler);
    lease.release();
    return { id: lease.id, root: lease.root, compilerPath: lease.compilerPath };
  }

  /** Like `prepare`, with a lease that keeps the toolchain from eviction until released. */
  async acquire(compiler: CompilerInfo): Promise<ToolchainLease & { archivePath: string; compilerPath: string }> {
    const rec = await this.record(compiler);
    const lease = await this.store.acquire(rec.id, rec.archivePath);
    return { ...lease, archivePath: rec.archivePath, compilerPath: rec.manifest.compilerPath };
  }

  private async record(compiler: CompilerInfo): Promise<ArchiveRecord> {
    // The archive holds the compiler at the path it is called by: clang and clang++ share an identity, not a toolchain.
    const key = fileKey(compiler.identity, compiler.path);
    let rec: ArchiveRecord | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      let pending = this.packaging.get(key);
      if (!pending) pending = this.remember(key, this.loadOrPackage(key, compiler));
      rec = await pending;
      if (isCurrent(rec)) return rec;
      // Changed since it was packaged: package again (once for all callers that noticed).
      if (attempt === 0 && this.packaging.get(key) === pending) this.remember(key, this.packageNow(key, compiler));
    }
    return rec!;
  }

  private remember(key: string, pending: Promise<ArchiveRecord>): Promise<ArchiveRecord> {
    this.packaging.set(key, pending);
    pending.catch(() => {
      if (this.packaging.get(key) === pending) this.packaging.delete(key);
    });
    return pending;
  }

  private async loadOrPackage(key: string, compiler: CompilerInfo): Promise<ArchiveRecord> {
    const recordPath = join(this.archiveDir, `${key}.json`);
    if (existsSync(recordPath)) {
      try {
        const rec = JSON.parse(readFileSync(recordPath, "utf8")) as ArchiveRecord;
        if (rec.formatVersion === FORMAT_VERSION && isCurrent(rec)) return rec;
        // Format 1 kept the archive under the compiler's key; archives are kept by content id now.
        if ((rec.formatVersion as number) === 1) await rm(join(this.archiveDir, `${key}.tar.gz`), { force: true });
        this.logger.info("toolchain of %s changed since it was packaged; packaging it again", compiler.path);
      } catch {
        // unreadable record: package again
      }
    }
    return this.packageNow(key, compiler);
  }

  private async packageNow(key: string, compiler: CompilerInfo): Promise<ArchiveRecord> {
    const started = performance.now();
    const described = await describeToolchain(this.engine, compiler);
    const resolved = resolvedByContent(described.spec);
    // Another name of the same compiler (cmake's c++ after make's g++) has the same manifest, so the same archive bytes:
    // packing them again would cost seconds of gzip for nothing, and digesting every file again ~100 MB of reads.
    const twin = this.packagedAs(buildManifest({ ...resolved, identity: "" }, described.runsOn), resolved.sysroot ?? "/");
    if (twin) {
      const rec: ArchiveRecord = { ...twin };
      await atomicWrite(join(this.archiveDir, `${key}.json`), Buffer.from(JSON.stringify(rec)));
      this.logger.info("the toolchain of %s is one already packaged (%s); not packaging it again", compiler.path, rec.id.slice(0, 12));
      return rec;
    }
    const spec = { ...resolved, identity: contentDigest(resolved) };
    const built = await buildToolchainArchive(spec, described.runsOn);
    mkdirSync(this.archiveDir, { recursive: true });
    const archivePath = join(this.archiveDir, `${built.id}.tar.gz`);
    const sysroot = spec.sysroot ?? "/";
    const rec: ArchiveRecord = {
      formatVersion: FORMAT_VERSION,
      id: built.id,
      archivePath,
      archiveBytes: built.bytes.length,
      unpackedBytes: built.unpackedBytes,
      manifest: built.manifest,
      sysroot,
      sources: built.manifest.files.map((f) => {
        const st = lstatSync(hostPath(sysroot, f.path));
        return { path: f.path, type: f.type, size: f.type === "file" ? st.size : 0, mtimeMs: f.type === "file" ? st.mtimeMs : 0, ...(f.linkTarget !== undefined ? { linkTarget: f.linkTarget } : {}) };
      }),
    };
    // Another name of the same compiler may have stored these very bytes already.
    if (!existsSync(archivePath) || statSync(archivePath).size !== built.bytes.length) await atomicWrite(archivePath, built.bytes);
    await atomicWrite(join(this.archiveDir, `${key}.json`), Buffer.from(JSON.stringify(rec)));
    this.logger.info("packaged the toolchain of %s (%s, %d files, %d bytes) in %d ms", compiler.path, built.id.slice(0, 12), built.manifest.files.length, built.bytes.length, Math.round(performance.now() - started));
    return rec;
  }

  /**
   * A current record whose archive was made from this manifest (`identity`
   * left out): the manifest names every file with its size and mode, a
   * current record's files are unchanged since it was made (`isCurrent`), so
   * their contents and digest (`identifiedByContent`) are the same, and the
   * archive is a deterministic packing of them: the bytes would be the same.
   * Read from the same root (`sysroot`): the manifest does not name it.
   */
  private packagedAs(manifest: ToolchainManifest, sysroot: string): ArchiveRecord | undefined {
    let names: string[];
    try {
      names = readdirSync(this.archiveDir).filter((n) => n.endsWith(".json"));
    } catch {
      return undefined;
    }
    const wanted = JSON.stringify({ ...manifest, identity: "" });
    for (const name of names) {
      try {
        const rec = JSON.parse(readFileSync(join(this.archiveDir, name), "utf8")) as ArchiveRecord;
        if (rec.formatVersion === FORMAT_VERSION && rec.sysroot === sysroot && JSON.stringify({ ...rec.manifest, identity: "" }) === wanted && isCurrent(rec)) return rec;
      } catch {
        // unreadable or half-written: not a twin
      }
    }
    return undefined;
  }
}

/** Whether the archive is still there and the files it was made from are unchanged. */
function isCurrent(rec: ArchiveRecord): boolean {
  try {
    if (statSync(rec.archivePath).size !== rec.archiveBytes) return false;
    for (const s of rec.sources) {
      const p = hostPath(rec.sysroot, s.path);
      const st = lstatSync(p);
      if (s.type === "file" && (!st.isFile() || st.size !== s.size || st.mtimeMs !== s.mtimeMs)) return false;
      if (s.type === "directory" && !st.isDirectory()) return false;
      if (s.type === "symlink" && (!st.isSymbolicLink() || readlinkSync(p) !== s.linkTarget)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function fileKey(identity: string, path: string): string {
  return hashBytes(`${identity}\0${path}`);
}

async function atomicWrite(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

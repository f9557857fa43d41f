import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashBytes } from "../hashing/key-hasher.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import { readNoFollow } from "../util/read-no-follow.js";
import { REPRISE_VERSION } from "../version.js";
import { encodeIndexEntry, indexName, type IndexedOutput, type WatchItem } from "./entry-format.js";
import { SharedWatches, watchAbsentGuard, watchCompilerLookup, watchConfigSearch, watchHashedFile } from "./watch-list.js";
import { userConfigDir } from "../util/paths.js";
import type { AbsentGuard } from "../storage/codec.js";
import { HIT_LOG, parseHitLine } from "./hit-log.js";

/**
 * A large output the hit put in place by a kernel copy (engine/lead-copy.ts):
 * its bytes never came through the daemon, so the index takes them from the
 * stored entry rather than reading them back: a hard link to the entry, whose
 * first `size` bytes they are (the native client reads no further), or a
 * copy cut to them.
 */
export interface CopiedOutputSource {
  /** Names these bytes in the index's copies (one name, one content): the stored entry's identity, not a digest of the bytes. */
  id: string;
  size: number;
  /**
   * Puts the bytes, checked against the stored entry's checksum, at `dest` (a
   * new file) as its first `size` bytes: "linked" (the stored entry itself,
   * private already) or "copied"; throws when they cannot be vouched for.
   */
  placeAt(dest: string): "linked" | "copied";
}

/** An output as a hit wrote it: its bytes, or where the same bytes can be copied from. */
export type WrittenOutput = { path: string; executable: boolean } & ({ data: Buffer } | { copied: CopiedOutputSource });

/** What a direct-mode hit answered by the daemon was decided on, and what it wrote. */
export interface DaemonHit {
  /** The Compile frame's payload as the index names and compares it (index-request.ts: make's jobserver words left out). */
  request: Buffer;
  /** The wall-clock time (ms) the call arrived: what was watched by stat alone must not have changed since shortly before. */
  startedAt: number;
  cwd: string;
  env: Readonly<Record<string, string>>;
  compilerName: string;
  compilerPath: string;
  configFile: string | undefined;
  /** The cache directory (the index's copies of outputs live in it). */
  cacheDir: string;
  cacheSizeBytes: number;
  /** The stored result on this machine's disk. */
  resultFile: string;
  source: { path: string; hash: string; tokens: readonly string[] };
  headers: readonly { path: string; hash: string }[];
  /** Where no file may appear (the manifest entry's guards, with the identities the daemon last vouched for). */
  absent: readonly AbsentGuard[];
  /** The marker tokens the headers were hashed with (the hash cache keeps a digest per token list). */
  headerTokens: readonly string[];
  written: readonly WrittenOutput[];
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  language: string;
  plugin: string;
  compileMs: number;
}

/**
 * Why a hit was not indexed for the native client (counted in stats as
 * `hitIndexSkipped`; the daemon answers that call itself next time).
 * The `*-not-settled` ones are tried again once the file has settled.
 */
export type IndexSkip =
  | "settings"
  | "call-logged-in-detail"
  | "plugin-watches-calls"
  | "date-dependent"
  | "bound-to-checkout"
  | "base-dirs"
  | "keyed-on-jobserver"
  | "no-local-result"
  | "compiler-changed-recently"
  | "config-changed-recently"
  | "source-not-settled"
  | "header-not-settled"
  | "unindexable-call"
  | "entry-too-large"
  | "write-failed";

/** What `record` did: written, left alone for a newer entry of the same request, or skipped. */
export type RecordOutcome = "recorded" | "kept-newer" | IndexSkip;

/** Skips a later try may overcome: a digest known only while its file was changing, read again once it has settled. */
export const SETTLING_SKIPS: ReadonlySet<RecordOutcome> = new Set<RecordOutcome>(["source-not-settled", "header-not-settled"]);

const BLOB_DIR = "hit-index";
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
const TOKEN = /^[A-Za-z0-9_.+@/-]{1,128}$/;

/**
 * The index the native client answers hits from without a round trip (see
 * docs/protocol.md, "Hits answered by the client"). After a direct-mode hit
 * the daemon records, under the request's exact bytes, everything the hit
 * was decided on (compiler lookup, config search, source and headers, each
 * by stat identity) and the bytes it wrote; the client serves an identical
 * request only while all of it is unchanged and the stored result still
 * exists. The client appends each hit it serves to a log the daemon folds
 * into its stats.
 */
export class HitIndex {
  private readonly dir: string;
  private readonly blobDirs = new Set<string>();
  private blobBytes = 0;
  /** Result files by entry name, to mark their use for eviction when the client reports a hit. */
  private readonly resultFiles = new Map<string, string>();
  /** When each entry's call arrived (ms since the epoch). */
  private readonly recordedAt = new Map<string, number>();
  /** Set once the daemon stops: a late try writes nothing into directories being removed. */
  private discarded = false;
  private readonly shared = new SharedWatches();

  constructor(
    runtime: string,
    private readonly hashes: FileHashCache,
    private readonly stats: Stats,
    private readonly logger: Logger,
  ) {
    this.dir = join(runtime, "hit-index");
  }

  /** A fresh, empty index: a new daemon may have other plugins or another version than the one that wrote the old one. */
  start(): void {
    // Hits a client answered while no daemon ran are counted before the log goes.
    this.foldFile(join(this.dir, "folding"));
    this.foldFile(join(this.dir, HIT_LOG));
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { mode: 0o700 });
  }

  /**
   * Records a hit the daemon answered (after the answer; any doubt means no entry, never a wrong one).
   * `keepExisting`: a miss's entry recorded late leaves alone one that a later call of the same request wrote.
   */
  record(hit: DaemonHit, options: { keepExisting?: boolean } = {}): RecordOutcome {
    if (this.discarded) return "write-failed";
    const name = indexName(hit.request);
    try {
      if (options.keepExisting && (this.recordedAt.get(name) ?? -Infinity) >= hit.startedAt) return "kept-newer";
      const watched = this.watchList(hit);
      const unindexable = !TOKEN.test(hit.language) || !TOKEN.test(hit.plugin) || hit.request.length > MAX_ENTRY_BYTES / 2;
      if (typeof watched === "string" || unindexable) {
        this.removeEntry(name);
        return typeof watched === "string" ? watched : "unindexable-call";
      }
      const outputs = hit.written.map((w) => this.blob(hit, w));
      const entry = encodeIndexEntry({
        version: REPRISE_VERSION,
        request: hit.request,
        resultFile: hit.resultFile,
        statsLine: `${hit.language} ${hit.plugin} ${Math.max(0, Math.round(hit.compileMs))}`,
        watched,
        outputs,
        stdout: hit.stdout,
        stderr: hit.stderr,
        exitCode: hit.exitCode,
      });
      if (entry.length > MAX_ENTRY_BYTES) return "entry-too-large";
      writePrivateAtomically(join(this.dir, name), entry);
      this.resultFiles.set(name, hit.resultFile);
      this.recordedAt.set(name, hit.startedAt);
      return "recorded";
    } catch (err) {
      this.logger.debug("hit index: not recording %s: %s", hit.source.path, (err as Error).message);
      return "write-failed";
    }
  }

  /**
   * Recording runs after the answer, perhaps long after under load: nothing
   * here may take "now" as the moment the call looked at a file. Files the
   * hit hashed are recorded with the identity their digest was read under;
   * the rest by a stat, vouched for only when it shows no change since before
   * the call arrived.
   */
  private watchList(hit: DaemonHit): WatchItem[] | IndexSkip {
    const { compilerName, compilerPath, cwd, env, configFile } = hit;
    const lookupKey = `compiler\0${compilerName}\0${compilerPath}\0${cwd}\0${env.PATH ?? "\0"}`;
    const compiler = this.shared.items(lookupKey, hit.startedAt, (since) => watchCompilerLookup(compilerName, compilerPath, cwd, env.PATH, since));
    if (!compiler) return "compiler-changed-recently";
    const searchKey = `config\0${cwd}\0${configFile ?? "\0"}\0${userConfigDir(env as NodeJS.ProcessEnv)}`;
    const config = this.shared.items(searchKey, hit.startedAt, (since) => watchConfigSearch(cwd, configFile, env, since));
    if (!config) return "config-changed-recently";
    const source = watchHashedFile(hit.source.path, hit.source.hash, hit.source.tokens, this.hashes);
    if (!source) return "source-not-settled";
    const items = [...compiler, ...config, source];
    for (const h of hit.headers) {
      const item = watchHashedFile(h.path, h.hash, hit.headerTokens, this.hashes);
      if (!item) return "header-not-settled";
      items.push(item);
    }
    for (const g of hit.absent) items.push(watchAbsentGuard(g));
    return items;
  }

  /** The bytes a hit wrote to one output, kept in the cache directory under their own hash. */
  private blob(hit: DaemonHit, w: DaemonHit["written"][number]): IndexedOutput {
    const dir = join(hit.cacheDir, BLOB_DIR);
    if (!this.blobDirs.has(dir)) {
      // Copies left by an earlier daemon may belong to entries that no longer exist.
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { mode: 0o700 });
      this.blobDirs.add(dir);
    }
    const size = "data" in w ? w.data.length : w.copied.size;
    const blob = join(dir, "data" in w ? hashBytes(w.data) : w.copied.id);
    if (!lstatSync(blob, { throwIfNoEntry: false })) {
      const limit = Math.min(hit.cacheSizeBytes / 4, 1024 ** 3);
      if (this.blobBytes + size > limit) this.clear();
      if ("data" in w) writePrivateAtomically(blob, w.data);
      else copyPrivatelyAtomically(blob, w.copied);
      this.blobBytes += size;
    }
    return { path: w.path, blob, size, executable: w.executable };
  }

  private removeEntry(name: string): void {
    rmSync(join(this.dir, name), { force: true });
    this.resultFiles.delete(name);
    this.recordedAt.delete(name);
  }

  /**
   * Forgets every entry and copy (the cache was cleared, or the copies grew past their share).
   * `cacheDir`: a cache directory cleared by the user, whose copies go too even when an earlier daemon made them.
   */
  clear(cacheDir?: string): void {
    if (cacheDir !== undefined) this.blobDirs.add(join(cacheDir, BLOB_DIR));
    for (const dir of this.blobDirs) rmSync(dir, { recursive: true, force: true });
    this.blobDirs.clear();
    this.blobBytes = 0;
    this.resultFiles.clear();
    this.recordedAt.clear();
    try {
      rmSync(join(this.dir, "folding"), { force: true });
      renameSync(join(this.dir, HIT_LOG), join(this.dir, "folding"));
    } catch {
      // no hits logged
    }
    this.foldFile(join(this.dir, "folding"));
    this.start();
  }

  /**
   * Counts the hits clients answered: the log is renamed aside, and read one
   * round later, so that a client still appending to the renamed file has
   * long finished (an append is a single write of one short line).
   */
  fold(): number {
    const aside = join(this.dir, "folding");
    const counted = this.foldFile(aside);
    try {
      renameSync(join(this.dir, HIT_LOG), aside);
    } catch {
      // nothing logged since
    }
    return counted;
  }

  /**
   * Removes the index when the daemon stops: entries answer for this
   * daemon's plugins and settings, so none outlives it (a daemon started
   * later, perhaps with upgraded plugins, starts empty anyway).
   */
  discard(): void {
    this.discarded = true;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Folds everything logged so far (for `--show-stats`): rename, let appends in progress land, count. */
  async foldNow(): Promise<void> {
    this.fold();
    await new Promise((r) => setTimeout(r, 20));
    this.fold();
  }

  private foldFile(path: string): number {
    const text = readOwnFile(path);
    if (text === undefined) return 0;
    rmSync(path, { force: true });
    let counted = 0;
    const touched = new Set<string>();
    for (const line of text.split("\n")) {
      const hit = parseHitLine(line);
      if (!hit) continue;
      this.stats.clientHit(hit.language, hit.compileMs, hit.serviceMs);
      this.stats.plugin(hit.plugin, "hits");
      counted++;
      const result = this.resultFiles.get(hit.name);
      if (result && !touched.has(result)) {
        touched.add(result);
        // The entry was used: eviction, which goes by mtime, must see it.
        const now = new Date();
        try {
          utimesSync(result, now, now);
        } catch {
          // evicted or cleared meanwhile
        }
      }
    }
    return counted;
  }
}

function writePrivateAtomically(path: string, data: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: "wx" });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function copyPrivatelyAtomically(path: string, source: CopiedOutputSource): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    // The client takes only a file nobody else can read or write (a kernel copy keeps its source's mode; a link is one only to a private file).
    if (source.placeAt(tmp) === "copied") chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** A regular file of this user's, read without following a link; undefined otherwise. */
function readOwnFile(path: string): string | undefined {
  const found = readNoFollow(path, (st) => st.isFile() && st.uid === process.getuid?.() && st.size <= 64 * 1024 * 1024);
  if (found.kind === "refused") unlinkSync(path);
  return found.kind === "read" ? found.data.toString("utf8") : undefined;
}

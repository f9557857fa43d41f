import { growingLru } from "../util/growing-lru.js";
import type { FileDigest, FileHashCache } from "../hashing/file-hash-cache.js";
import { hashBytes, KeyHasher } from "../hashing/key-hasher.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import { decodeManifest, encodeManifest, type Manifest, type ManifestEntry } from "../storage/codec.js";
import { CorruptEntryError, EntryKeyMismatchError } from "../util/errors.js";
import type { PathSharing } from "./base-dirs.js";
import { guardsHold } from "./absent-guards.js";
import type { TextReading } from "../hashing/text-digest.js";

/** Told about a stored blob that was refused (and removed): corrupt, outdated, or not bound to its key. */
export type RejectedBlob = (err: CorruptEntryError) => void;

/** Most include sets remembered per manifest (one per distinct header state seen). */
const MAX_MANIFEST_ENTRIES = 32;

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The result key of a direct-mode entry: the manifest key, every included file's hash, and the date if it matters. */
export function directResultKey(
  manifestKey: string,
  files: ManifestEntry["files"],
  date: string | undefined,
  env: ManifestEntry["env"] = [],
  root?: string,
  preprocessor?: boolean,
): string {
  const h = new KeyHasher().add("manifest", manifestKey);
  // Text digests are not part of it: they only say which other contents give the same result (and results stored
  // before they existed keep their keys).
  for (const f of files) h.add("path", f.path).add("hash", f.hash);
  if (date) h.add("date", date);
  for (const v of env) h.add("envName", v.name).add("envValue", v.value ?? "\0unset");
  if (root !== undefined) h.add("root", root);
  if (preprocessor) h.add("mode", "preprocessor");
  return h.digest();
}

/**
 * Decoded manifests kept in the daemon's memory, so a hit reads no manifest
 * from disk. The disk stays the truth: a lookup that finds no match in the
 * remembered copy reads the stored one again (another daemon may share the
 * cache directory). With each, the digest of the bytes it was decoded from or
 * encoded to, when known: stored bytes that are the same need no decoding,
 * checking or matching again.
 */
export class ManifestMemo {
  private readonly memo = growingLru<string, { manifest: Manifest; bytes?: string }>(20_000);
  /** Keys whose manifest the last read found absent (a cold miss's lookup): its record then needs no read of its own. */
  private readonly absent = growingLru<string, true>(20_000);

  get(storage: CacheStorage, key: string): Manifest | undefined {
    return this.memo.get(`${storageId(storage)}\0${key}`)?.manifest;
  }

  /** `bytes`: the digest (hashBytes) of the blob `manifest` was decoded from or encoded to, when it is that blob's. */
  set(storage: CacheStorage, key: string, manifest: Manifest, bytes?: string): void {
    const k = `${storageId(storage)}\0${key}`;
    this.memo.set(k, bytes === undefined ? { manifest } : { manifest, bytes });
    this.absent.delete(k);
  }

  /** The remembered manifest when it was decoded from (or encoded to) a blob with digest `bytes`. */
  sameBytes(storage: CacheStorage, key: string, bytes: string): Manifest | undefined {
    const r = this.memo.get(`${storageId(storage)}\0${key}`);
    return r?.bytes === bytes ? r.manifest : undefined;
  }

  noteAbsent(storage: CacheStorage, key: string): void {
    this.absent.set(`${storageId(storage)}\0${key}`, true);
  }

  /**
   * The manifest a new entry is added to, as this daemon last read or wrote
   * it: `null` when it found none, undefined when it does not know (then the
   * stored one is read). Another process's entry written since is dropped by
   * the update, which costs that include set a miss, never a wrong hit.
   */
  forUpdate(storage: CacheStorage, key: string): Manifest | null | undefined {
    const k = `${storageId(storage)}\0${key}`;
    return this.absent.get(k) ? null : this.memo.get(k)?.manifest;
  }

  clear(): void {
    this.memo.clear();
    this.absent.clear();
  }
}

const storageIds = new WeakMap<CacheStorage, number>();
let lastStorageId = 0;

/**
 * A number naming one storage object: memory kept for it is never handed to
 * another (a plugin's storage may claim any location).
 */
export function storageId(storage: CacheStorage): number {
  let id = storageIds.get(storage);
  if (id === undefined) {
    id = ++lastStorageId;
    storageIds.set(storage, id);
  }
  return id;
}

export async function findInManifest(
  storage: CacheStorage,
  key: string,
  memo: ManifestMemo,
  hashes: FileHashCache,
  env: Readonly<Record<string, string>>,
  rejected?: RejectedBlob,
  sharing?: PathSharing,
): Promise<ManifestEntry | undefined> {
  // One lookup's digests, shared by the remembered copy, the stored one and every entry of each (they list mostly the same files).
  const seen: SeenDigests = new Map();
  const remembered = memo.get(storage, key);
  if (remembered) {
    const match = await matchManifest(remembered, hashes, env, sharing, seen);
    if (match) return match;
  }
  const raw = await readManifestBlob(storage, key, rejected);
  let stored: Manifest | undefined;
  if (raw) {
    const bytes = hashBytes(raw);
    // The very blob the remembered copy was decoded from or written as: nothing more to check, and it matched nothing.
    stored = remembered && memo.sameBytes(storage, key, bytes);
    if (!stored) {
      stored = await decodeOrReject(storage, key, raw, rejected);
      if (stored) {
        memo.set(storage, key, stored, bytes);
        const match = await matchManifest(stored, hashes, env, sharing, seen);
        if (match) return match;
      }
    }
  }
  if (!stored) memo.noteAbsent(storage, key);
  // Without any manifest the read has asked every level already.
  return stored && storage.readLower ? findInLowerLevels(storage, key, stored, memo, hashes, env, sharing) : undefined;
}

/**
 * A lower level (a shared remote cache) may hold include sets this machine
 * never saw: asked only when the first level has no match, so hits pay
 * nothing. A match found there is added to the levels above. A lower
 * manifest is checked as a stored one is (bound to its key, every entry
 * naming the result its files give); one that fails is passed over.
 */
async function findInLowerLevels(
  storage: CacheStorage,
  key: string,
  upper: Manifest | undefined,
  memo: ManifestMemo,
  hashes: FileHashCache,
  env: Readonly<Record<string, string>>,
  sharing: PathSharing | undefined,
): Promise<ManifestEntry | undefined> {
  for await (const { level, data } of storage.readLower!("manifest", key)) {
    let lower: Manifest;
    try {
      lower = await decodeCheckedManifest(data, key);
    } catch {
      continue;
    }
    const match = await matchManifest(lower, hashes, env, sharing);
    if (!match) continue;
    const entries = [match, ...(upper?.entries ?? []).filter((e) => e.resultKey !== match.resultKey)].slice(0, MAX_MANIFEST_ENTRIES);
    storage.writeAbove?.(level, "manifest", key, await encodeManifest({ entries }, key));
    memo.set(storage, key, { entries });
    return match;
  }
  return undefined;
}

/**
 * The stored manifest of `key`. Each of its entries must name the result key
 * its own files give (directResultKey): a manifest pointed at another result
 * is refused like a corrupt one, and removed.
 */
export async function readManifest(storage: CacheStorage, key: string, rejected?: RejectedBlob): Promise<Manifest | undefined> {
  const raw = await readManifestBlob(storage, key, rejected);
  return raw && (await decodeOrReject(storage, key, raw, rejected));
}

/** The stored manifest blob of `key`, not yet decoded; a blob its level refuses (a link, say) is reported as `readManifest` does. */
function readManifestBlob(storage: CacheStorage, key: string, rejected?: RejectedBlob): Promise<Buffer | undefined> {
  return unlessRefused(storage, key, rejected, () => storage.read("manifest", key));
}

/** `raw` decoded and checked as the manifest of `key`; undefined (reported and removed) when it is refused. */
function decodeOrReject(storage: CacheStorage, key: string, raw: Buffer, rejected?: RejectedBlob): Promise<Manifest | undefined> {
  return unlessRefused(storage, key, rejected, () => decodeCheckedManifest(raw, key));
}

/** What `work` gives, or undefined when it refuses the stored manifest (corrupt, outdated, bound elsewhere): then reported and removed. */
async function unlessRefused<T>(storage: CacheStorage, key: string, rejected: RejectedBlob | undefined, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof CorruptEntryError) {
      rejected?.(err);
      await storage.remove("manifest", key);
      return undefined;
    }
    throw err;
  }
}

/** Decodes the manifest of `key`, refusing one bound to another key or with an entry its files do not give. */
async function decodeCheckedManifest(raw: Buffer, key: string): Promise<Manifest> {
  const manifest = await decodeManifest(raw, key);
  for (const e of manifest.entries) {
    if (directResultKey(key, e.files, e.date, e.env, e.root, e.preprocessor) !== e.resultKey) {
      throw new EntryKeyMismatchError(`manifest ${key.slice(0, 16)}… names result ${e.resultKey.slice(0, 16)}…, which its files do not give`);
    }
  }
  return manifest;
}

/**
 * The first manifest entry whose recorded files all still have their recorded
 * content, and where no file appeared that would shadow one of them or answer
 * a probe (`absent`, see absent-guards.ts). Files are checked through the hash
 * cache, so an unchanged header costs a stat. Paths under a base directory are
 * recorded relative to it (`sharing`); an entry bound to other base
 * directories is passed over.
 */
export async function matchManifest(
  manifest: Manifest,
  hashes: FileHashCache,
  env: Readonly<Record<string, string>>,
  sharing?: PathSharing,
  /** Digests already taken by this lookup (null: unreadable), and where it keeps those it takes. */
  seen: SeenDigests = new Map(),
): Promise<ManifestEntry | undefined> {
  const day = today();
  for (const entry of manifest.entries) {
    if (entry.date && entry.date !== day) continue;
    if (entry.root !== undefined && entry.root !== sharing?.root) continue;
    if (entry.env?.some((v) => (env[v.name] ?? null) !== v.value)) continue;
    let matches = true;
    for (const f of entry.files) {
      const path = sharing ? sharing.absolute(f.path) : f.path;
      let d = seen.get(path);
      if (d === undefined) {
        const fast = hashes.known(path);
        d = (fast === "unknown" ? await hashes.digest(path) : fast) ?? null;
        seen.set(path, d);
      }
      if (d?.hash !== f.hash) {
        matches = false;
        break;
      }
    }
    if (matches && guardsHold(entry.absent, sharing ? (p) => sharing.absolute(p) : undefined)) return entry;
  }
  return undefined;
}

/** The digests one lookup took, by path (null: the file could not be read): each file is looked at once per lookup, not once per entry. */
export type SeenDigests = Map<string, FileDigest | null>;

/** A manifest entry whose files changed only where their text digests do not show it, with the files as they are now. */
export interface TextMatch {
  entry: ManifestEntry;
  /** The entry's files with their content (and text digest) now, paths as recorded. */
  files: ManifestEntry["files"];
  /** The files whose content differs from the entry's (their texts match). */
  changed: string[];
}

/**
 * The first entry that matches by text: every recorded file has its
 * recorded content or, where it recorded a text digest, that text
 * (`reading`); the other conditions are matchManifest's. Asked only on a
 * miss whose manifest exists but matched nothing. `refused`: a file whose
 * content holds such tokens (a time macro) is never matched by text.
 */
export async function matchManifestByText(
  manifest: Manifest,
  hashes: FileHashCache,
  env: Readonly<Record<string, string>>,
  reading: TextReading,
  tokens: readonly string[],
  refused: (found: string[]) => boolean,
  sharing?: PathSharing,
): Promise<TextMatch | undefined> {
  // Digests with the text, once per file for all entries (a different digest from matchManifest's: not shared with it).
  const seen: SeenDigests = new Map();
  const day = today();
  for (const entry of manifest.entries) {
    if (entry.preprocessor || !entry.files.some((f) => f.text !== undefined)) continue;
    if (entry.date && entry.date !== day) continue;
    if (entry.root !== undefined && entry.root !== sharing?.root) continue;
    if (entry.env?.some((v) => (env[v.name] ?? null) !== v.value)) continue;
    const files: ManifestEntry["files"] = [];
    const changed: string[] = [];
    for (const f of entry.files) {
      const path = sharing ? sharing.absolute(f.path) : f.path;
      let now = seen.get(path);
      if (now === undefined) seen.set(path, (now = (await hashes.digest(path, tokens, reading)) ?? null));
      if (!now || now.text?.embeds || refused(now.tokens)) break;
      if (now.hash !== f.hash) {
        if (f.text === undefined || now.text?.hash !== f.text) break;
        changed.push(path);
      }
      files.push({ path: f.path, hash: now.hash, size: now.size, ...(now.text?.hash !== undefined ? { text: now.text.hash } : {}) });
    }
    if (files.length < entry.files.length || changed.length === 0) continue;
    if (guardsHold(entry.absent, sharing ? (p) => sharing.absolute(p) : undefined)) return { entry, files, changed };
  }
  return undefined;
}

/** Adds an entry to a manifest (newest first), read-modify-write; a lost race only loses one entry. */
export async function recordInManifest(storage: CacheStorage, key: string, entry: ManifestEntry, memo: ManifestMemo): Promise<void> {
  // Read-modify-write of a manifest this daemon just looked up (every miss) would read and check it again.
  const known = memo.forUpdate(storage, key);
  const existing = (known === undefined ? await readManifest(storage, key) : known)?.entries ?? [];
  const entries = [entry, ...existing.filter((e) => e.resultKey !== entry.resultKey)].slice(0, MAX_MANIFEST_ENTRIES);
  const blob = await encodeManifest({ entries }, key);
  await storage.write("manifest", key, blob);
  memo.set(storage, key, { entries }, hashBytes(blob));
}

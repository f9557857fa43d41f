import { LRUCache } from "lru-cache";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import { KeyHasher } from "../hashing/key-hasher.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import { decodeManifest, encodeManifest, type Manifest, type ManifestEntry } from "../storage/codec.js";
import { CorruptEntryError } from "../util/errors.js";

/** Most include sets remembered per manifest (one per distinct header state seen). */
const MAX_MANIFEST_ENTRIES = 32;

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The result key of a direct-mode entry: the manifest key, every included file's hash, and the date if it matters. */
export function directResultKey(manifestKey: string, files: ManifestEntry["files"], date: string | undefined, env: ManifestEntry["env"] = []): string {
  const h = new KeyHasher().add("manifest", manifestKey);
  for (const f of files) h.add("path", f.path).add("hash", f.hash);
  if (date) h.add("date", date);
  for (const v of env) h.add("envName", v.name).add("envValue", v.value ?? "\0unset");
  return h.digest();
}

/**
 * Decoded manifests kept in the daemon's memory, so a hit reads no manifest
 * from disk. The disk stays the truth: a lookup that finds no match in the
 * remembered copy reads the stored one again (another daemon may share the
 * cache directory).
 */
export class ManifestMemo {
  private readonly memo = new LRUCache<string, Manifest>({ max: 20_000 });

  get(storage: CacheStorage, key: string): Manifest | undefined {
    return this.memo.get(`${storage.location}\0${key}`);
  }

  set(storage: CacheStorage, key: string, manifest: Manifest): void {
    this.memo.set(`${storage.location}\0${key}`, manifest);
  }

  clear(): void {
    this.memo.clear();
  }
}

export async function findInManifest(
  storage: CacheStorage,
  key: string,
  memo: ManifestMemo,
  hashes: FileHashCache,
  env: Readonly<Record<string, string>>,
): Promise<ManifestEntry | undefined> {
  const remembered = memo.get(storage, key);
  if (remembered) {
    const match = await matchManifest(remembered, hashes, env);
    if (match) return match;
  }
  const stored = await readManifest(storage, key);
  if (!stored) return undefined;
  memo.set(storage, key, stored);
  return matchManifest(stored, hashes, env);
}

export async function readManifest(storage: CacheStorage, key: string): Promise<Manifest | undefined> {
  const raw = await storage.read("manifest", key);
  if (!raw) return undefined;
  try {
    return await decodeManifest(raw);
  } catch (err) {
    if (err instanceof CorruptEntryError) {
      await storage.remove("manifest", key);
      return undefined;
    }
    throw err;
  }
}

/**
 * The first manifest entry whose recorded files all still have their recorded
 * content. Files are checked through the hash cache, so an unchanged header
 * costs a stat.
 */
export async function matchManifest(manifest: Manifest, hashes: FileHashCache, env: Readonly<Record<string, string>>): Promise<ManifestEntry | undefined> {
  const day = today();
  for (const entry of manifest.entries) {
    if (entry.date && entry.date !== day) continue;
    if (entry.env?.some((v) => (env[v.name] ?? null) !== v.value)) continue;
    let matches = true;
    for (const f of entry.files) {
      const fast = hashes.known(f.path);
      const d = fast === "unknown" ? await hashes.digest(f.path) : fast;
      if (d?.hash !== f.hash) {
        matches = false;
        break;
      }
    }
    if (matches) return entry;
  }
  return undefined;
}

/** Adds an entry to a manifest (newest first), read-modify-write; a lost race only loses one entry. */
export async function recordInManifest(storage: CacheStorage, key: string, entry: ManifestEntry, memo: ManifestMemo): Promise<void> {
  const existing = (await readManifest(storage, key))?.entries ?? [];
  const entries = [entry, ...existing.filter((e) => e.resultKey !== entry.resultKey)].slice(0, MAX_MANIFEST_ENTRIES);
  await storage.write("manifest", key, await encodeManifest({ entries }));
  memo.set(storage, key, { entries });
}

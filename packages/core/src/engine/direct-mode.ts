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
export function directResultKey(manifestKey: string, files: ManifestEntry["files"], date: string | undefined): string {
  const h = new KeyHasher().add("manifest", manifestKey);
  for (const f of files) h.add("path", f.path).add("hash", f.hash);
  if (date) h.add("date", date);
  return h.digest();
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
export async function matchManifest(manifest: Manifest, hashes: FileHashCache): Promise<ManifestEntry | undefined> {
  const day = today();
  for (const entry of manifest.entries) {
    if (entry.date && entry.date !== day) continue;
    const digests = await Promise.all(entry.files.map((f) => hashes.digest(f.path)));
    if (digests.every((d, i) => d !== undefined && d.hash === entry.files[i]!.hash)) return entry;
  }
  return undefined;
}

/** Adds an entry to a manifest (newest first), read-modify-write; a lost race only loses one entry. */
export async function recordInManifest(storage: CacheStorage, key: string, entry: ManifestEntry): Promise<void> {
  const existing = (await readManifest(storage, key))?.entries ?? [];
  const entries = [entry, ...existing.filter((e) => e.resultKey !== entry.resultKey)].slice(0, MAX_MANIFEST_ENTRIES);
  await storage.write("manifest", key, await encodeManifest({ entries }));
}

import { hashBytes } from "./key-hasher.js";
import type { FileText } from "./text-digest.js";
import { PersistedRecords } from "../util/persisted-records.js";

/**
 * Text digests (the `textDigest` hook's readings of a file) kept in the cache
 * directory, so a fresh daemon does not read every header of a build again
 * through the plugin's lexer (about half a second for libuv's 200 headers).
 * A text digest is a function of the file's bytes and of the reading alone,
 * so a record is keyed by the content hash and the reading's lasting id
 * (Reprise's version, the family, the dialect and the tapping plugins), never
 * by path or stat identity. Stored as `PersistedRecords` are.
 */
export class PersistedTexts {
  private readonly records: PersistedRecords<string>;

  constructor(cacheRoot: string, onError: (err: Error) => void = () => undefined) {
    this.records = new PersistedRecords(cacheRoot, {
      file: "text-digests.json",
      format: "reprise-texts-2",
      maxEntries: 16_384,
      valid: isRecord,
      onError,
      // New headers come in bursts (a cold build): one write for each burst, not one per miss.
      saveDelayMs: 5000,
    });
  }

  lookup(lastingId: string, contentHash: string): FileText | undefined {
    const r = this.records.get(keyOf(lastingId, contentHash));
    if (r === undefined) return undefined;
    const embeds = r.startsWith("e");
    const hash = r.slice(1);
    return { hash: hash === "" ? undefined : hash, embeds };
  }

  remember(lastingId: string, contentHash: string, text: FileText): void {
    this.records.set(keyOf(lastingId, contentHash), `${text.embeds ? "e" : "-"}${text.hash ?? ""}`);
  }

  /** Writes what was remembered since the last save (also at daemon stop). */
  flush(): void {
    this.records.flush();
  }
}

/** The reading's id shortened (its digest's first 16 hex digits: a file of 16,384 records stays small) before the content hash. */
const shortIds = new Map<string, string>();
function keyOf(lastingId: string, contentHash: string): string {
  let short = shortIds.get(lastingId);
  if (!short) shortIds.set(lastingId, (short = hashBytes(Buffer.from(lastingId, "utf8")).slice(0, 16)));
  return `${short}:${contentHash}`;
}

function isRecord(v: unknown): v is string {
  return typeof v === "string" && /^[e-](?:[0-9a-f]{16,128})?$/.test(v);
}

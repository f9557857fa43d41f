import { chmodSync, rmSync, truncateSync } from "node:fs";
import { crc32 } from "node:zlib";
import type { LocalBlob } from "../storage/cache-storage.js";
import { crc32OfFile, type LeadTail } from "../storage/lead-entry.js";
import { CorruptEntryError } from "../util/errors.js";
import { moveIntoPlace, tempBeside } from "./write-output.js";

/** An output copied beside its path and verified, waiting to be moved into place. */
export interface StagedOutput {
  commit(): void;
  discard(): void;
}

let umask: number | undefined;

/**
 * The lead output of a format-4 entry (storage/lead-entry.ts) put beside
 * `path` by the kernel: the whole blob is copied into a new temporary file,
 * the CRC is computed over that copy's lead bytes and the body already read,
 * and only then is the copy cut to the lead's length and given the mode a
 * written output gets. So what `commit` renames into place is exactly the
 * bytes the checksum vouched for; a short, torn or altered blob throws
 * CorruptEntryError and leaves nothing behind. The bytes pass through this
 * process once, in small chunks, for the CRC (as `decodeEntry` checks a
 * blob read whole), and are never allocated or written from here.
 */
export function stageLeadCopy(blob: LocalBlob, tail: LeadTail, path: string, executable: boolean): StagedOutput {
  const tmp = tempBeside(path);
  try {
    copyVerifiedLead(blob, tail, tmp);
    // A kernel copy takes the blob's mode (0600); a written output gets the daemon's umask, as writeOutputAtomically's do.
    umask ??= process.umask();
    chmodSync(tmp, (executable ? 0o777 : 0o666) & ~umask);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  let open = true;
  return {
    commit() {
      open = false;
      try {
        moveIntoPlace(tmp, path);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
    },
    discard() {
      if (open) rmSync(tmp, { force: true });
      open = false;
    },
  };
}

/**
 * The lead output's bytes alone at `dest` (a new file): the whole blob copied
 * by the kernel, checked against the footer's CRC, then cut to the lead's
 * length. Throws CorruptEntryError for a short, torn or altered blob; the
 * caller removes `dest`.
 */
export function copyVerifiedLead(blob: LocalBlob, tail: LeadTail, dest: string): void {
  copyLead(blob, tail, dest, true);
}

/**
 * As `copyVerifiedLead`, but the copy's bytes are not read back: only for a
 * blob whose every byte this process checksummed itself and whose identity
 * (`LocalBlob.identity`) has not changed since (see HitServer.storedByCopy).
 */
export function copyVouchedLead(blob: LocalBlob, tail: LeadTail, dest: string): void {
  copyLead(blob, tail, dest, false);
}

/**
 * The stored entry itself linked at `dest` (a new file), for a reader that
 * takes only its first `tail.leadSize` bytes (the hit index's copies): no
 * byte is copied. With `verify`, the lead's bytes are read for the footer's
 * CRC as a copy's would be (throws CorruptEntryError; the caller removes
 * `dest`). False when the blob cannot be linked there (see `LocalBlob.linkTo`):
 * the caller copies instead. Never cut to the lead's length: it is the
 * stored entry.
 */
export function linkLead(blob: LocalBlob, tail: LeadTail, dest: string, verify: boolean): boolean {
  if (!blob.linkTo?.(dest)) return false;
  if (verify) {
    const leadCrc = crc32OfFile(dest, tail.leadSize);
    if (leadCrc === undefined || crc32(tail.body, leadCrc) !== tail.crc) throw new CorruptEntryError("entry does not match its checksum");
  }
  return true;
}

function copyLead(blob: LocalBlob, tail: LeadTail, dest: string, verify: boolean): void {
  const copied = blob.copyTo(dest);
  if (copied !== blob.size) throw new CorruptEntryError(`entry copy holds ${copied} of ${blob.size} bytes`);
  if (verify) {
    const leadCrc = crc32OfFile(dest, tail.leadSize);
    if (leadCrc === undefined || crc32(tail.body, leadCrc) !== tail.crc) throw new CorruptEntryError("entry does not match its checksum");
  }
  truncateSync(dest, tail.leadSize);
}

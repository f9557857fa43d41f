import { renameSync, unlinkSync, writeFileSync } from "node:fs";

/**
 * Writes a file the way a compiler's output appears to a parallel build: all
 * at once (temp + rename). Synchronous on purpose: outputs are written on
 * every hit, and sync writes of object-sized files cost far less than the
 * thread-pool round trips of the promise API.
 *
 * The old file is unlinked before the rename: on ext4 (auto_da_alloc) a rename
 * that replaces a file forces the new file's blocks to be allocated at once,
 * which measured 0.3 ms against 0.03 ms for unlink + rename. Readers still see
 * the old file, no file, or the whole new one, never a partial write.
 */
let tempCounter = 0;

/** A temporary name beside `path` no other writer uses (pid + counter; created exclusively, "wx", in any case). */
export function tempBeside(path: string): string {
  return `${path}.reprise-${process.pid}-${(++tempCounter).toString(36)}`;
}

/** Puts the finished temporary file `tmp` in place of `path` (see above for the unlink first). */
export function moveIntoPlace(tmp: string, path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // absent, or not ours to remove: the rename below reports what matters
  }
  renameSync(tmp, path);
}

export function writeOutputAtomically(path: string, data: Buffer, executable = false): void {
  const tmp = tempBeside(path);
  try {
    writeFileSync(tmp, data, { mode: executable ? 0o777 : 0o666, flag: "wx" });
    moveIntoPlace(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw err;
  }
}

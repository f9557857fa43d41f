import { randomBytes } from "node:crypto";
import { renameSync, unlinkSync, writeFileSync } from "node:fs";

/**
 * Writes a file the way a compiler's output appears to a parallel build: all
 * at once (temp + rename). Synchronous on purpose: outputs are written on
 * every hit, and sync writes of object-sized files cost far less than the
 * thread-pool round trips of the promise API.
 */
export function writeOutputAtomically(path: string, data: Buffer, executable = false): void {
  const tmp = `${path}.reprise-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(tmp, data, { mode: executable ? 0o777 : 0o666 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw err;
  }
}

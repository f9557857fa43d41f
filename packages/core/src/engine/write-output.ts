import { randomBytes } from "node:crypto";
import { rename, unlink, writeFile } from "node:fs/promises";

/** Writes a file the way a compiler's output appears to a parallel build: all at once (temp + rename). */
export async function writeOutputAtomically(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.reprise-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, data, { mode: 0o666 });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

import { closeSync, constants, copyFileSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { identityText } from "../hashing/file-hash-cache.js";
import type { LocalBlob } from "./cache-storage.js";

/**
 * Opens a blob's file for reading: never through a link (O_NOFOLLOW), and a
 * FIFO in its place must not hang the daemon (O_NONBLOCK; refused). Throws
 * ELOOP when the file is a link or not a regular file.
 */
export function openRegularFile(file: string): { fd: number; size: number } {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: "ELOOP" });
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** A blob's whole content (see openRegularFile). */
export function readRegularFile(file: string): Buffer {
  const { fd } = openRegularFile(file);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

let procFd: boolean | undefined;

/** Whether /proc/self/fd names this process's open files (Linux with /proc mounted): how `copyTo` copies the very file opened. */
export function procFdLinks(): boolean {
  return (procFd ??= process.platform === "linux" && existsSync("/proc/self/fd"));
}

/** A blob open as `fd` (`size` bytes): read in parts, or copied whole by the kernel. */
export function openedBlob(fd: number, size: number): LocalBlob {
  let open = true;
  return {
    size,
    read(position, length) {
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - position)));
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done === buf.length ? buf : buf.subarray(0, done);
    },
    copyTo(dest) {
      // The open file itself, not its path: a blob renamed over it meanwhile is not mixed in.
      copyFileSync(`/proc/self/fd/${fd}`, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      return statSync(dest).size;
    },
    identity: () => identityText(fstatSync(fd, { bigint: true })),
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

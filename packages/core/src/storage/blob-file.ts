import { closeSync, constants, copyFileSync, existsSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
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

/**
 * A blob open as `fd` (`size` bytes): read in parts, or copied whole by the
 * kernel; with `path` (where it was opened), linked too.
 */
export function openedBlob(fd: number, size: number, path?: string): LocalBlob {
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
    ...(path === undefined ? {} : { linkTo: (dest: string) => linkOpenFile(fd, path, dest) }),
    identity: () => identityText(fstatSync(fd, { bigint: true })),
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/**
 * Links `path` at `dest` and keeps the link only when it is the file open as
 * `fd` (a file renamed over `path` meanwhile is not it) and that file is this
 * user's and private: what a reader trusting `dest` as its own copy needs.
 */
function linkOpenFile(fd: number, path: string, dest: string): boolean {
  const open = fstatSync(fd);
  if (!open.isFile() || (open.mode & 0o077) !== 0 || (process.getuid !== undefined && open.uid !== process.getuid())) return false;
  try {
    linkSync(path, dest);
  } catch {
    // EXDEV (another file system), EMLINK, EPERM (a file system without hard links): the caller copies
    return false;
  }
  const made = lstatSync(dest, { throwIfNoEntry: false });
  if (made?.isFile() && made.dev === open.dev && made.ino === open.ino) return true;
  rmSync(dest, { force: true });
  return false;
}

import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

/** What `readNoFollow` found: nothing it could open, a file `accept` refused (with its fstat), or the file's bytes. */
export type NoFollowRead = { kind: "unopened" } | { kind: "refused"; stat: Stats } | { kind: "read"; data: Buffer };

/**
 * Reads a whole file without following a symlink in its last component
 * (O_NOFOLLOW: ELOOP, so "unopened"), never blocking on a FIFO planted in its
 * place (O_NONBLOCK), and only when `accept` takes the opened file's fstat:
 * what is checked is what is read, with no window for a swap in between.
 * A file that shrinks while read gives the bytes that were there.
 */
export function readNoFollow(path: string, accept: (stat: Stats) => boolean): NoFollowRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return { kind: "unopened" };
  }
  try {
    const stat = fstatSync(fd);
    if (!accept(stat)) return { kind: "refused", stat };
    const buf = Buffer.allocUnsafe(stat.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n <= 0) break;
      got += n;
    }
    return { kind: "read", data: got === buf.length ? buf : buf.subarray(0, got) };
  } finally {
    closeSync(fd);
  }
}

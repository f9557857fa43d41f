import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";

/**
 * Files up to this size (sources, headers) are read synchronously: a
 * promise-based read costs four thread-pool round trips (open, stat, read,
 * close), several times the read itself.
 */
export const SYNC_READ_MAX = 1024 * 1024;

/**
 * The bytes of `path` when it is a regular file of at most `maxBytes`;
 * undefined when it cannot be opened, is not a regular file (O_NONBLOCK: a
 * FIFO put in its place must not hang the daemon) or is larger.
 */
export function readRegularFileSync(path: string, maxBytes = Infinity): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    return st.isFile() && st.size <= maxBytes ? readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

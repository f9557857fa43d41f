import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";

/*
 * Files in the runtime directory are opened without following a symlink in
 * the last component (O_NOFOLLOW) and created 0600: a link planted there must
 * never turn a log line or a marker into a write to another file (e.g. the
 * user's ~/.bashrc). Loaded by the client: node:fs only.
 */
const { O_WRONLY, O_RDONLY, O_CREAT, O_APPEND, O_TRUNC, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

export const APPEND_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW;
export const REPLACE_FLAGS = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW;
export const CREATE_NEW_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** A descriptor to append to `path` (created 0600); throws ELOOP on a symlink. */
export function openForAppend(path: string): number {
  return openSync(path, APPEND_FLAGS, 0o600);
}

export function appendPrivate(path: string, text: string): void {
  const fd = openForAppend(path);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

export function writePrivate(path: string, text: string): void {
  const fd = openSync(path, REPLACE_FLAGS, 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Creates `path` only if nothing (not even a dangling link) is there; false when something is. */
export function createExclusive(path: string): boolean {
  try {
    closeSync(openSync(path, CREATE_NEW_FLAGS, 0o600));
    return true;
  } catch {
    return false;
  }
}

/** Up to `limit` bytes of a regular file, never through a symlink; undefined when unreadable. */
export function readPrivate(path: string, limit = 64 * 1024): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO in the way must not hang the call.
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(limit);
    const n = readSync(fd, buf, 0, limit, 0);
    return buf.toString("utf8", 0, n);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

import { lstatSync, type Stats } from "node:fs";
import { dirname } from "node:path";

/**
 * Who may have put a file where Reprise is about to read or write, in the
 * spirit of git's `safe.directory`: only the user and root are trusted. A
 * directory another user owns or can write (the shared sticky /tmp included)
 * is not a place to take configuration, plugins or cache contents from.
 */

/** The uid everything is checked against; undefined where there are no uids (Windows): no checks. */
export function currentUid(): number | undefined {
  return typeof process.getuid === "function" ? process.getuid() : undefined;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");

function ownerProblem(st: Stats, uid: number): string | undefined {
  if (st.uid === uid || st.uid === 0) return undefined;
  return `it is owned by uid ${st.uid}, not by you (uid ${uid}) or root`;
}

/**
 * Why a directory must not be searched for config or used for a cache (owned
 * by another user, or writable by every user), or undefined when it may.
 */
export function untrustedDirReason(st: Stats, uid = currentUid()): string | undefined {
  if (uid === undefined) return undefined;
  if (!st.isDirectory()) return "it is not a directory";
  const owner = ownerProblem(st, uid);
  if (owner) return owner;
  if (st.mode & 0o002) return `it is writable by other users (mode ${octal(st.mode)})`;
  return undefined;
}

/**
 * Why a config file or plugin must not be read (not a regular file, owned by
 * another user, or writable by group or others), or undefined when it may.
 */
export function untrustedFileReason(st: Stats, uid = currentUid()): string | undefined {
  if (uid === undefined) return undefined;
  if (!st.isFile()) return "it is not a regular file";
  const owner = ownerProblem(st, uid);
  if (owner) return owner;
  if (st.mode & 0o022) return `it is writable by group or other users (mode ${octal(st.mode)})`;
  return undefined;
}

/**
 * Why a private cache directory (root, kind and shard folders) must not be
 * used: a link, not a directory, not the user's own, or open to group or
 * others for writing.
 */
export function untrustedPrivateDirReason(st: Stats, uid = currentUid()): string | undefined {
  if (uid === undefined) return undefined;
  if (st.isSymbolicLink()) return "it is a symbolic link";
  if (!st.isDirectory()) return "it is not a directory";
  if (st.uid !== uid) return `it is owned by uid ${st.uid}, not by you (uid ${uid})`;
  if (st.mode & 0o022) return `it is writable by group or other users (mode ${octal(st.mode)})`;
  return undefined;
}

/**
 * Why a file (e.g. a plugin resolved from node_modules) lies where another
 * user could have placed or replaced it, or undefined. Checks the file and
 * each directory above it; a sticky directory owned by root (such as /tmp)
 * ends the walk once a trusted directory below it was seen, since no other
 * user can rename or remove what the user owns there.
 */
export function untrustedLocationReason(file: string, uid = currentUid()): string | undefined {
  if (uid === undefined) return undefined;
  const st = lstatSync(file, { throwIfNoEntry: false });
  // Nothing there: whoever reads it next fails on their own, with their own message.
  if (!st) return undefined;
  if (!st.isSymbolicLink()) {
    const why = untrustedFileReason(st, uid);
    if (why) return `${file}: ${why}`;
  }
  let dir = dirname(file);
  let sawTrusted = false;
  for (;;) {
    const d = lstatSync(dir, { throwIfNoEntry: false });
    if (d && d.isDirectory()) {
      const sticky = (d.mode & 0o1000) !== 0;
      if (sawTrusted && sticky && d.uid === 0) return undefined;
      const why = untrustedDirReason(d, uid);
      if (why) return `${dir}: ${why}`;
      sawTrusted = true;
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

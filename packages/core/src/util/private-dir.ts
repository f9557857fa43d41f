import { lstatSync, type Stats } from "node:fs";

/**
 * What a client or daemon may do with a runtime directory or its socket.
 * Loaded by the client on every call: node:fs only.
 */
export type PrivatePathCheck =
  | { kind: "ok" }
  /** Nothing there yet: create it (then check again: someone may have been faster). */
  | { kind: "absent" }
  /** Someone else could control it: never connect, never write, say so. */
  | { kind: "unsafe"; problem: string }
  /** Cannot be used for another reason (e.g. a file in the way): compile without cache. */
  | { kind: "unusable"; problem: string };

function lstatOrError(path: string): Stats | NodeJS.ErrnoException {
  try {
    return lstatSync(path);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

function ownerProblem(st: Stats, uid: number | undefined): string | undefined {
  if (uid !== undefined && st.uid !== uid) return `it belongs to uid ${st.uid}, not to you (uid ${uid})`;
  return undefined;
}

/**
 * The rule ssh-agent and tmux apply to their socket directories: a real
 * directory (not a symlink), owned by this user, that nobody else can enter,
 * list or write. Anything else may be another user's trap (a squatted
 * `<tmp>/reprise-<uid>`, a planted symlink), so it is refused, not repaired.
 */
export function checkPrivateDir(dir: string, uid = process.geteuid?.()): PrivatePathCheck {
  const st = lstatOrError(dir);
  if (st instanceof Error) {
    return st.code === "ENOENT" ? { kind: "absent" } : { kind: "unusable", problem: st.message };
  }
  if (st.isSymbolicLink()) return { kind: "unsafe", problem: "it is a symbolic link" };
  if (!st.isDirectory()) return { kind: "unsafe", problem: "it is not a directory" };
  const owner = ownerProblem(st, uid);
  if (owner) return { kind: "unsafe", problem: owner };
  if ((st.mode & 0o077) !== 0) {
    return { kind: "unsafe", problem: `other users can use it (mode ${(st.mode & 0o777).toString(8)}; it must be 700)` };
  }
  return { kind: "ok" };
}

/** The daemon's socket inside a checked directory: a socket of this user's, not a link to one elsewhere. */
export function checkOwnSocket(path: string, uid = process.geteuid?.()): PrivatePathCheck {
  const st = lstatOrError(path);
  if (st instanceof Error) {
    return st.code === "ENOENT" ? { kind: "absent" } : { kind: "unusable", problem: st.message };
  }
  if (!st.isSocket()) return { kind: "unsafe", problem: st.isSymbolicLink() ? "it is a symbolic link" : "it is not a socket" };
  const owner = ownerProblem(st, uid);
  return owner ? { kind: "unsafe", problem: owner } : { kind: "ok" };
}

/** The one line a client prints when it refuses a runtime path. */
export function refusalMessage(path: string, problem: string): string {
  return (
    `reprise: not using ${path}: ${problem}. Remove it, or set REPRISE_RUNTIME_DIR (or XDG_RUNTIME_DIR) ` +
    `to a directory only you can use. Compiling without cache.\n`
  );
}

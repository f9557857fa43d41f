import { lstatSync, mkdirSync, statSync } from "node:fs";
import { RepriseError } from "../util/errors.js";
import { currentUid, untrustedPrivateDirReason } from "../security/path-trust.js";

/** A cache directory Reprise will not use; the call compiles without the cache. */
export class UnsafeCacheDirError extends RepriseError {
  constructor(dir: string, why: string) {
    super(`cache directory ${dir} is not used`, "E_CACHE_DIR_UNSAFE", `${why} (only a directory of your own that no one else can write is used as a cache)`);
    this.name = "UnsafeCacheDirError";
  }
}

/**
 * Checks (and with `create`, makes, mode 0700) a private directory of the
 * cache: the root, or a folder inside it. Returns false when it is absent and
 * not created; throws UnsafeCacheDirError when it is another user's, writable
 * by group or others, or a link. The root alone may be a link the user (or
 * root) made, to a directory that passes the same checks (a cache moved to
 * another disk); nothing inside it is ever reached through a link.
 */
export function ensurePrivateCacheDir(dir: string, create: boolean, isRoot = false): boolean {
  let st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) {
    if (!create) return false;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    st = lstatSync(dir);
  }
  if (isRoot && st.isSymbolicLink()) {
    const uid = currentUid();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw new UnsafeCacheDirError(dir, `it is a symbolic link made by uid ${st.uid}, not by you (uid ${uid}) or root`);
    }
    const target = statSync(dir, { throwIfNoEntry: false });
    if (!target) return false;
    st = target;
  }
  const why = untrustedPrivateDirReason(st);
  if (why) throw new UnsafeCacheDirError(dir, why);
  return true;
}

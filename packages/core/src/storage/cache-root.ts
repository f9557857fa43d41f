import { lstatSync, mkdirSync } from "node:fs";
import { RepriseError } from "../util/errors.js";
import { untrustedPrivateDirReason } from "../security/path-trust.js";

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
 * not created; throws UnsafeCacheDirError when it is a link, another user's,
 * or writable by group or others.
 */
export function ensurePrivateCacheDir(dir: string, create: boolean): boolean {
  let st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) {
    if (!create) return false;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    st = lstatSync(dir);
  }
  const why = untrustedPrivateDirReason(st);
  if (why) throw new UnsafeCacheDirError(dir, why);
  return true;
}

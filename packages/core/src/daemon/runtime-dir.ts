import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { RepriseError } from "../util/errors.js";

/**
 * Creates the per-user runtime directory (socket, lock, log) with mode 0700
 * and refuses one that another user owns or that others can enter: the socket
 * accepts compile requests, so only its owner may reach it.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new RepriseError(`${dir} is not a directory`, "E_RUNTIME_DIR", "remove it or set REPRISE_RUNTIME_DIR");
  if (uid !== undefined && st.uid !== uid) {
    throw new RepriseError(`${dir} belongs to another user`, "E_RUNTIME_DIR", "set REPRISE_RUNTIME_DIR to a directory of your own");
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

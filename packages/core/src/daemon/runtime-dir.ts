import { mkdirSync } from "node:fs";
import { RepriseError } from "../util/errors.js";
import { checkPrivateDir } from "../util/private-dir.js";

/**
 * Creates the per-user runtime directory (socket, lock, log) with mode 0700
 * and refuses one that is a symlink, belongs to another user or that others
 * can use: the socket accepts compile requests carrying the environment, and
 * the daemon writes its files there.
 */
export function ensurePrivateDir(dir: string): void {
  let check = checkPrivateDir(dir);
  if (check.kind === "absent") {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    check = checkPrivateDir(dir);
  }
  if (check.kind === "ok") return;
  const problem = check.kind === "absent" ? "it vanished while being created" : check.problem;
  throw new RepriseError(`runtime directory ${dir} cannot be used: ${problem}`, "E_RUNTIME_DIR", "remove it, or set REPRISE_RUNTIME_DIR to a directory only you can use");
}

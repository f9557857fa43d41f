import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { listDir } from "../util/list-dir.js";

const TEMP_DIR = /^tmp-(\d+)$/;

/** The daemon's scratch folder in the runtime directory. */
export function daemonTempDir(runtime: string, pid = process.pid): string {
  return join(runtime, `tmp-${pid}`);
}

/**
 * Removes the scratch folders of daemons that were killed before they could
 * remove their own. Called once the lock is held, so no other daemon uses
 * this runtime directory; a pid still alive is spared all the same (a
 * concurrent start that lost the lock race may still be finishing a call).
 */
export function removeLeftovers(runtime: string): string[] {
  const removed: string[] = [];
  for (const name of listDir(runtime)) {
    const pid = Number(TEMP_DIR.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    try {
      // rm does not follow a symlink: a link planted as tmp-<pid> is removed, not its target.
      rmSync(join(runtime, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // left for the next daemon
    }
  }
  return removed;
}

/** A zombie (killed, not yet reaped by its parent) is dead: it holds no files and runs nothing. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return /\) [^ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

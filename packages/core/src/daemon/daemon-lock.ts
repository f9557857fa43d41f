import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";

/**
 * One daemon per runtime directory. The lock file holds the owner's pid; a
 * lock whose pid is gone is stale and taken over.
 */
export function acquireDaemonLock(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(readFileSafe(path));
      if (owner && owner !== process.pid && isAlive(owner)) return false;
      try {
        unlinkSync(path);
      } catch {
        // Another starter removed it first; retry the exclusive create.
      }
    }
  }
  return false;
}

export function releaseDaemonLock(path: string): void {
  if (Number(readFileSafe(path)) === process.pid) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

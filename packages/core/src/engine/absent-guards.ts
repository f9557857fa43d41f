import { lstatSync } from "node:fs";
import { join } from "node:path";
import type { AbsentGuard } from "../storage/codec.js";
import { dirIdentity, nowNs, stableIdentity, statOrUndefined } from "./dir-listings.js";

/**
 * Whether a name below a guarded directory is still absent as the include
 * search sees it: nothing there, a path through a file, or a directory
 * (passed over). A name ending in "/" stands for everything below it:
 * nothing of that name may be there at all. A link is never vouched for
 * (its target may appear elsewhere), nor is a permission error.
 */
export function stillAbsent(path: string): boolean {
  const below = path.endsWith("/");
  try {
    const st = lstatSync(below ? path.slice(0, -1) : path, { throwIfNoEntry: false });
    return !st || (!below && st.isDirectory());
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOTDIR";
  }
}

/**
 * On a hit (engine/direct-mode.ts): whether every path the entry needs
 * absent still is. A guarded directory with its recorded identity vouches
 * for all its names at the cost of one stat; one that changed (objects
 * written into a source directory) has its names checked, and when none
 * appeared its new identity is kept in the remembered manifest, so the next
 * hit costs a stat again. `absolute` maps a recorded directory (relative
 * under a base directory) to this checkout's.
 */
export function guardsHold(guards: readonly AbsentGuard[] | undefined, absolute: (path: string) => string = (p) => p): boolean {
  if (!guards) return true;
  // Before every stat below: an identity taken later is vouched for from an earlier moment, which is the safe side.
  const takenAt = nowNs();
  for (const guard of guards) {
    const dir = absolute(guard.dir);
    const st = statOrUndefined(dir);
    const isDir = st?.isDirectory() === true;
    if (isDir && guard.id !== "" && dirIdentity(st!) === guard.id) continue;
    for (const name of guard.names) if (!stillAbsent(join(dir, name))) return false;
    // The stat was taken before the names were looked at: any later change gives the directory another identity.
    if (isDir) guard.id = stableIdentity(st!, takenAt);
  }
  return true;
}

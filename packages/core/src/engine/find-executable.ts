import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { basename, delimiter, dirname, isAbsolute, join, resolve } from "node:path";

/**
 * Finds the real compiler for a call. Kept free of heavy imports: the client
 * uses it too when it has to run the compiler without the daemon.
 *
 * `exclude` holds the real paths of Reprise's own entry points, so that a
 * masquerading `gcc -> reprise` link early on PATH is skipped and Reprise
 * never calls itself.
 */
export function findExecutable(
  name: string,
  options: { cwd: string; pathEnv: string | undefined; exclude: ReadonlySet<string>; skipDir?: string },
): string | undefined {
  if (name.includes("/")) {
    const p = isAbsolute(name) ? name : resolve(options.cwd, name);
    return isExecutable(p) && !isExcluded(p, options.exclude) ? p : undefined;
  }
  const skip = options.skipDir ? safeRealpath(options.skipDir) : undefined;
  for (const dir of (options.pathEnv ?? "").split(delimiter)) {
    if (!dir) continue;
    const absDir = resolve(options.cwd, dir);
    if (skip && safeRealpath(absDir) === skip) continue;
    const candidate = join(absDir, name);
    if (isExecutable(candidate) && !isExcluded(candidate, options.exclude)) return candidate;
  }
  return undefined;
}

/** The compiler name a masquerading link stands for (`/usr/lib/reprise/gcc` → `gcc`). */
export function masqueradeName(invokedAs: string): { name: string; dir: string } {
  return { name: basename(invokedAs), dir: dirname(invokedAs) };
}

function isExecutable(p: string): boolean {
  // Most PATH entries lack the name: a stat that does not throw is far cheaper than a failing access().
  try {
    if (!statSync(p, { throwIfNoEntry: false })?.isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isExcluded(p: string, exclude: ReadonlySet<string>): boolean {
  return exclude.size > 0 && exclude.has(safeRealpath(p) ?? p);
}

function safeRealpath(p: string): string | undefined {
  try {
    return realpathSync.native(p);
  } catch {
    return undefined;
  }
}

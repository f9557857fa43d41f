import { readFileSync, statSync, type Stats } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LRUCache } from "lru-cache";
import { currentUid, untrustedDirReason, untrustedFileReason } from "../security/path-trust.js";

export const MODULE_NAME = "reprise";

/** File names searched in each directory, in order (cosmiconfig's conventions). */
export const SEARCH_PLACES: readonly string[] = [
  "package.json",
  `.${MODULE_NAME}rc`,
  `.${MODULE_NAME}rc.json`,
  `.${MODULE_NAME}rc.yaml`,
  `.${MODULE_NAME}rc.yml`,
  `.${MODULE_NAME}rc.js`,
  `.${MODULE_NAME}rc.mjs`,
  `.${MODULE_NAME}rc.cjs`,
  `${MODULE_NAME}.config.js`,
  `${MODULE_NAME}.config.mjs`,
  `${MODULE_NAME}.config.cjs`,
  `${MODULE_NAME}.config.ts`,
  `${MODULE_NAME}.config.json`,
];

/** A config file and what identifies its current version (an edit changes it). */
export interface LocatedFile {
  path: string;
  /** inode, size, mtime and ctime: a stat tells whether the file changed since it was loaded. */
  identity: string;
}

export interface ConfigLocation {
  file?: LocatedFile;
  /** Config files that were ignored, and why (for the user: the search never reads them). */
  warnings: string[];
}

/**
 * A directory whose listing changed is checked for config names again at most
 * this often: a build writing objects into the cwd changes it on nearly every
 * call, and 13 stats per call would cost more than the rest of a hit's lookup.
 * So a config file created in a directory is seen within this time; an edit
 * to the file in use is seen by the next call (its own stat).
 */
const RESCAN_INTERVAL_MS = 250;
const MAX_PACKAGE_JSON_BYTES = 4 * 1024 * 1024;

interface DirScan {
  /** The directory's own stat identity when scanned: a file added or removed changes its mtime. */
  stamp: string;
  scannedAt: number;
  untrusted?: string;
  /** Candidate files present, in search order. */
  candidates: string[];
}

const stampOf = (st: Stats) => `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}:${st.uid}`;
const identityOf = (st: Stats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

/**
 * Finds the config file that governs a call made in a directory: the nearest
 * one from there upwards, where the walk stops at the first directory another
 * user owns or can write (it and everything above are not searched), and a
 * file another user owns or can write is ignored. Both are reported as
 * warnings. Each directory's listing is remembered with its stat, so a call
 * costs one stat per directory up the tree plus one for the file found
 * (see RESCAN_INTERVAL_MS for a directory whose listing changed).
 */
export class ConfigLocator {
  private readonly dirs = new LRUCache<string, DirScan>({ max: 4096 });
  private readonly packageHasConfig = new LRUCache<string, boolean>({ max: 1024 });

  constructor(private readonly uid = currentUid()) {}

  /** The project's config for a call in `cwd`, searching upwards. */
  locate(cwd: string): ConfigLocation {
    const warnings: string[] = [];
    let dir = resolve(cwd);
    for (;;) {
      const scan = this.scan(dir);
      if (!scan) return { warnings };
      if (scan.untrusted) {
        this.reportIgnoredAbove(dir, scan.untrusted, warnings);
        return { warnings };
      }
      const found = this.pick(scan, warnings);
      if (found === "stop") return { warnings };
      if (found) return { file: found, warnings };
      const up = dirname(dir);
      if (up === dir) return { warnings };
      dir = up;
    }
  }

  /** A config file directly in `dir` (the user's config dir), with the same checks. */
  locateIn(dir: string): ConfigLocation {
    const warnings: string[] = [];
    const scan = this.scan(resolve(dir));
    if (!scan) return { warnings };
    if (scan.untrusted) {
      if (scan.candidates.length) warnings.push(`ignored ${scan.candidates[0]}: its directory ${dir} cannot be trusted (${scan.untrusted})`);
      return { warnings };
    }
    const found = this.pick(scan, warnings);
    return found && found !== "stop" ? { file: found, warnings } : { warnings };
  }

  private scan(dir: string): DirScan | undefined {
    let st: Stats;
    try {
      st = statSync(dir);
    } catch {
      return undefined;
    }
    const stamp = stampOf(st);
    const known = this.dirs.get(dir);
    if (known && known.stamp === stamp) return known;
    // Who owns the directory and who may write it comes from this stat, every time.
    const untrusted = untrustedDirReason(st, this.uid);
    const now = Date.now();
    if (known && now - known.scannedAt < RESCAN_INTERVAL_MS) {
      return { stamp: known.stamp, scannedAt: known.scannedAt, candidates: known.candidates, ...(untrusted ? { untrusted } : {}) };
    }
    const candidates: string[] = [];
    for (const name of SEARCH_PLACES) {
      const path = join(dir, name);
      if (statSync(path, { throwIfNoEntry: false })) candidates.push(path);
    }
    const scan: DirScan = { stamp, scannedAt: now, candidates, ...(untrusted ? { untrusted } : {}) };
    this.dirs.set(dir, scan);
    return scan;
  }

  /**
   * The first candidate that is a config: a trusted file, or "stop" when the
   * nearest one cannot be trusted (a config further up would silently stand
   * in for the one the project meant).
   */
  private pick(scan: DirScan, warnings: string[]): LocatedFile | "stop" | undefined {
    for (const path of scan.candidates) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      if (path.endsWith("package.json") && !(st.isFile() && this.hasPackageConfig(path, st))) continue;
      const why = untrustedFileReason(st, this.uid);
      if (why) {
        warnings.push(`ignored ${path}: ${why}`);
        return "stop";
      }
      return { path, identity: identityOf(st) };
    }
    return undefined;
  }

  private hasPackageConfig(path: string, st: Stats): boolean {
    const key = `${path}\0${identityOf(st)}`;
    let has = this.packageHasConfig.get(key);
    if (has === undefined) {
      // A package.json is read (never run) to see whether it has the key; a huge one is not a config.
      if (st.size > MAX_PACKAGE_JSON_BYTES) return false;
      try {
        const json = JSON.parse(readFileSync(path, "utf8")) as unknown;
        has = typeof json === "object" && json !== null && MODULE_NAME in json;
      } catch {
        has = false;
      }
      this.packageHasConfig.set(key, has);
    }
    return has;
  }

  /**
   * The walk stopped at an untrusted directory: names the config files there
   * and above that it did not read (none found: nothing to say, so working
   * under /tmp stays quiet).
   */
  private reportIgnoredAbove(stoppedAt: string, why: string, warnings: string[]): void {
    let dir = stoppedAt;
    for (;;) {
      const scan = this.scan(dir);
      const file = scan?.candidates.find((p) => !p.endsWith("package.json") || this.hasPackageConfigNow(p));
      if (file) {
        warnings.push(`ignored ${file}: config is not searched in ${stoppedAt} or above, since ${why}`);
        return;
      }
      const up = dirname(dir);
      if (up === dir) return;
      dir = up;
    }
  }

  private hasPackageConfigNow(path: string): boolean {
    const st = statSync(path, { throwIfNoEntry: false });
    return !!st && st.isFile() && this.hasPackageConfig(path, st);
  }
}

import { readdirSync, readFileSync } from "node:fs";
import type { BindingMarkers, CompileInvocation, PathRecording } from "./types.js";

/** What of an entry a hit replays: its outputs and streams. */
export interface ReplayedParts {
  outputs: { role: string; data: Buffer }[];
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * `baseDirs`: paths under the base directory holding the cwd enter a call's
 * keys and manifest relative to it, so the same project checked out
 * elsewhere shares entries. Only where the plugin says the outputs cannot
 * record that directory (no debug info, or debug info mapping it away);
 * `__FILE__` in a file read, any output holding the directory's path and
 * code the compile could load that might read it (binding markers) bind the
 * entry to its checkout (`root`), so a hit never gives bytes another
 * checkout's compile would not. Outputs the plugin marks relocatable (a
 * dep-info file, JSON notifications) are stored with the base directory as a
 * placeholder and restored with this checkout's instead.
 */
export interface PathSharing {
  /** `path` with a safe base directory replaced by its placeholder, else unchanged. */
  relative(path: string): string;
  /** The inverse of `relative` for this call's base directories. */
  absolute(path: string): string;
  /** Every occurrence of a safe base directory in an argument replaced (`-I/a/proj/inc`, `-ffile-prefix-map=/a/proj=.`). */
  argument(arg: string): string;
  /** Tokens to look for in the files read; one found binds the entry to its checkout. */
  fileTokens: string[];
  /** The base directory in use: what a checkout-bound entry is bound to. */
  root: string;
  /** Whether an output holds the path of a base directory in use (a dependency file with absolute paths, `__FILE__` of an absolute path). */
  recordedIn(outputs: readonly { data: Buffer }[]): boolean;
  /** Whether this call's entries are stored relocated (see `stored`); part of the key. */
  relocates: boolean;
  /** The entry's parts as stored: in relocatable outputs and streams, the base directory replaced by a placeholder. */
  stored<T extends ReplayedParts>(parts: T): T;
  /** The inverse of `stored`, for this checkout. */
  restored<T extends ReplayedParts>(parts: T): T;
  /**
   * Whether the parts as stored bind the entry to its checkout: one still
   * holds the base directory's path, or an output holds a binding marker.
   */
  boundBy(parts: ReplayedParts): boolean;
}

const PLACEHOLDER = "\u0000base";
/** The base directory in a relocated output or stream: bytes no text format the plugins relocate holds. */
const STORED_BASE = Buffer.from("\u0000reprise-base-dir\u0000");
/** Base directories that dependency files and JSON write as they are (no space, quote, backslash, control or non-ASCII character). */
const PLAIN_PATH = /^[A-Za-z0-9_.+\-/@~,%=]+$/;

/**
 * The call's path sharing, or undefined when its paths are keyed as they
 * are. The base directory used is the innermost one holding the working
 * directory (the checkout being built); paths under other base directories
 * stay absolute, so a relative path always names one directory.
 */
export function pathSharing(baseDirs: readonly string[], cwd: string, inv: CompileInvocation): PathSharing | undefined {
  const rec = inv.pathRecording;
  if (!baseDirs.length || !rec || rec.unmappable) return undefined;
  // baseDirs come longest first: the first that holds the cwd is the innermost. The checkout being built holds the cwd,
  // else the outputs (cargo compiles a dependency in its own directory, outside the checkout, into the checkout's target/).
  const base = baseDirs.find((b) => within(cwd, b)) ?? baseDirs.find((b) => inv.outputs.length > 0 && inv.outputs.every((o) => within(o.path, b)));
  if (!base || (rec.debugInfo && !rec.debugMaps.some((m) => within(base, m)))) return undefined;
  return new BaseDirSharing(base, rec);
}

/** Whether `dir` is `map` or lies under it. */
function within(dir: string, map: string): boolean {
  const m = map.length > 1 && map.endsWith("/") ? map.slice(0, -1) : map;
  return dir === m || dir.startsWith(`${m}/`);
}

class BaseDirSharing implements PathSharing {
  readonly fileTokens: string[];
  readonly root: string;
  readonly relocates: boolean;
  private readonly needle: Buffer;
  private readonly inArgument: RegExp;
  private readonly relocatable: { outputs: ReadonlySet<string>; streams: boolean };
  private readonly markers: BindingMarkers | undefined;

  constructor(
    private readonly base: string,
    rec: PathRecording,
  ) {
    this.fileTokens = rec.macroMaps.some((m) => within(base, m)) ? [] : rec.fileTokens;
    this.root = base;
    this.needle = Buffer.from(base);
    // The base directory as a path prefix: followed by "/", "=", ":" or the end.
    this.inArgument = new RegExp(`${escapeRegExp(base)}(?=$|[/=:])`, "g");
    const relocatable = rec.relocatable && PLAIN_PATH.test(base) && base !== "/" ? rec.relocatable : undefined;
    this.relocatable = { outputs: new Set(relocatable?.outputs ?? []), streams: relocatable?.streams ?? false };
    this.relocates = this.relocatable.outputs.size > 0 || this.relocatable.streams;
    this.markers = rec.bindingMarkers;
  }

  stored<T extends ReplayedParts>(parts: T): T {
    return this.relocates ? this.mapParts(parts, (data) => toPlaceholder(data, this.needle)) : parts;
  }

  restored<T extends ReplayedParts>(parts: T): T {
    return this.relocates ? this.mapParts(parts, (data) => fromPlaceholder(data, this.needle)) : parts;
  }

  boundBy(parts: ReplayedParts): boolean {
    if (this.recordedIn([...parts.outputs, { data: parts.stdout }, { data: parts.stderr }])) return true;
    if (!this.markers) return false;
    // Named by the arguments: the compile could load it for certain, and no output would say whether it did.
    if (!this.markers.outputsShow && this.markers.names.length > 0) return true;
    const markers = markerNames(this.markers);
    if (markers === undefined) return true;
    if (markers.length === 0) return false;
    const needles = markers.map((m) => Buffer.from(m));
    const holdsOne = (data: Buffer) => needles.some((m) => data.includes(m));
    if (this.markers.outputsShow && parts.outputs.some((o) => holdsOne(o.data))) return true;
    const { shownIn } = this.markers;
    if (shownIn) return shownIn.some((file) => readOrUndefined(file, holdsOne) ?? true);
    return !this.markers.outputsShow;
  }

  private mapParts<T extends ReplayedParts>(parts: T, swap: (data: Buffer) => Buffer): T {
    const { outputs, streams } = this.relocatable;
    return {
      ...parts,
      outputs: parts.outputs.map((o) => (outputs.has(o.role) ? { ...o, data: swap(o.data) } : o)),
      stdout: streams ? swap(parts.stdout) : parts.stdout,
      stderr: streams ? swap(parts.stderr) : parts.stderr,
    };
  }

  relative(path: string): string {
    return within(path, this.base) ? PLACEHOLDER + path.slice(this.base.length) : path;
  }

  absolute(path: string): string {
    return path.startsWith(PLACEHOLDER) ? this.base + path.slice(PLACEHOLDER.length) : path;
  }

  argument(arg: string): string {
    return arg.includes(this.base) ? arg.replace(this.inArgument, PLACEHOLDER) : arg;
  }

  recordedIn(outputs: readonly { data: Buffer }[]): boolean {
    return outputs.some((o) => o.data.includes(this.needle));
  }
}

/**
 * `data` with every occurrence of the base directory `base` as a path prefix
 * (not inside a longer name: preceded by neither "/" nor a byte that can
 * be part of a name, followed by "/" or by a byte that cannot) replaced
 * by the placeholder. Unchanged when `data` already holds the placeholder,
 * which would make the swap impossible to undo: the entry then stays bound
 * to its checkout by the path it still holds.
 */
function toPlaceholder(data: Buffer, base: Buffer): Buffer {
  if (!data.includes(base) || data.includes(STORED_BASE)) return data;
  const parts: Buffer[] = [];
  let start = 0;
  for (let at = data.indexOf(base); at >= 0; at = data.indexOf(base, at + 1)) {
    const before = data[at - 1];
    const next = data[at + base.length];
    if (before !== undefined && (before === 0x2f || continuesName(before))) continue;
    if (next !== undefined && next !== 0x2f && continuesName(next)) continue;
    parts.push(data.subarray(start, at), STORED_BASE);
    start = at + base.length;
    at = start - 1;
  }
  if (start === 0) return data;
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}

/** The inverse of `toPlaceholder`: every placeholder replaced by `base`. */
function fromPlaceholder(data: Buffer, base: Buffer): Buffer {
  if (!data.includes(STORED_BASE)) return data;
  const parts: Buffer[] = [];
  let start = 0;
  for (let at = data.indexOf(STORED_BASE); at >= 0; at = data.indexOf(STORED_BASE, start)) {
    parts.push(data.subarray(start, at), base);
    start = at + STORED_BASE.length;
  }
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}

function continuesName(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte >= 0x80 || "_.+-@~,%".includes(String.fromCharCode(byte));
}

/** `test` of a file's bytes; undefined when it cannot be read. */
function readOrUndefined(file: string, test: (data: Buffer) => boolean): boolean | undefined {
  try {
    return test(readFileSync(file));
  } catch {
    return undefined;
  }
}

/** The markers, with those named by files in the listed directories; undefined when a directory cannot be listed (it might hold one). */
function markerNames(m: BindingMarkers): string[] | undefined {
  const names = new Set(m.names);
  if (m.filesIn) {
    const pattern = new RegExp(m.filesIn.pattern);
    for (const dir of new Set(m.filesIn.dirs)) {
      let files: string[];
      try {
        files = readdirSync(dir);
      } catch (err) {
        // A directory that is not there holds nothing the compile could have loaded.
        if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") continue;
        return undefined;
      }
      for (const f of files) {
        const name = pattern.exec(f)?.[1];
        if (name) names.add(name);
      }
    }
  }
  return [...names];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

import type { CompileInvocation, PathRecording } from "./types.js";

/**
 * `baseDirs`: paths under the base directory holding the cwd enter a call's
 * keys and manifest relative to it, so the same project checked out
 * elsewhere shares entries. Only where the plugin says the outputs cannot
 * record that directory (no debug info, or debug info mapping it away);
 * `__FILE__` in a file read and any output holding the directory's path bind
 * the entry to its checkout (`root`), so a hit never gives bytes another
 * checkout's compile would not.
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
}

const PLACEHOLDER = "\u0000base";

/**
 * The call's path sharing, or undefined when its paths are keyed as they
 * are. The base directory used is the innermost one holding the working
 * directory (the checkout being built); paths under other base directories
 * stay absolute, so a relative path always names one directory.
 */
export function pathSharing(baseDirs: readonly string[], cwd: string, inv: CompileInvocation): PathSharing | undefined {
  const rec = inv.pathRecording;
  if (!baseDirs.length || !rec || rec.unmappable) return undefined;
  // baseDirs come longest first: the first that holds the cwd is the innermost.
  const base = baseDirs.find((b) => within(cwd, b));
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
  private readonly needle: Buffer;
  private readonly inArgument: RegExp;

  constructor(
    private readonly base: string,
    rec: PathRecording,
  ) {
    this.fileTokens = rec.macroMaps.some((m) => within(base, m)) ? [] : rec.fileTokens;
    this.root = base;
    this.needle = Buffer.from(base);
    // The base directory as a path prefix: followed by "/", "=", ":" or the end.
    this.inArgument = new RegExp(`${escapeRegExp(base)}(?=$|[/=:])`, "g");
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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

import { readdirSync, readFileSync, statSync, type Stats } from "node:fs";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { BoundedMap, type ReadPredictionInput } from "@reprise/core";

/**
 * The files a gcc-like compile may read, without running it (in the spirit
 * of distcc's pump mode): from the source, every `#include`,
 * `#include_next` and `#import` of each file read, whatever `#if` encloses
 * it (a superset), resolved through the call's include search, recursively,
 * beginning with the implicit `<stdc-predef.h>`.
 * A directive that names a macro some file of the closure or the command
 * line defines, a forced include (`-include`, `-imacros`) or an unreadable
 * file: null, no prediction. A macro defined nowhere cannot be what a taken
 * directive names (lua.h's `#include LUA_USER_H` under `#if defined`). A name found nowhere is left
 * out (a directive not taken, or the compile fails and its user scans).
 * A guess: its user checks the compile's own dependency file against it.
 */
export function predictIncludes(input: ReadPredictionInput, memo: PredictionMemo = sharedMemo): string[] | null {
  const { invocation: inv, cwd, search } = input;
  if (inv.compileArgv.some((a) => FORCED_INCLUDE.test(a))) return null;
  const quote = search.quote.map((d) => resolve(cwd, d));
  const angle = search.angle.map((d) => resolve(cwd, d));
  const chain = [...quote, ...angle];
  const look = memo.session(`${quote.length}\0${chain.join("\0")}`);
  const found = new Set<string>([inv.sourceFile]);
  const queue = [inv.sourceFile];
  const computed = new Set<string>();
  const defined = new Set<string>();
  // Read before the source when the search finds it, and silently skipped when not: a job that lacked it would compile differently, unnoticed.
  for (const p of look.located(`a\0a${IMPLICIT_PREINCLUDE}`, () => locate({ name: IMPLICIT_PREINCLUDE, quoted: false, next: false }, inv.sourceFile, quote.length, chain, look))) {
    found.add(p);
    queue.push(p);
  }
  while (queue.length) {
    const file = queue.pop()!;
    const directives = look.directives(file, file === inv.sourceFile);
    if (!directives || directives.computed === UNKNOWN) return null;
    for (const m of directives.computed) computed.add(m);
    for (const m of directives.defines) defined.add(m);
    for (const d of directives.list) {
      // A quoted name resolves the same from every file of one directory, an angled one from every file; `#include_next` depends on the file.
      const key = `${d.next ? `n${file}` : d.quoted ? `q${dirname(file)}` : "a"}\0${d.quoted ? "q" : "a"}${d.name}`;
      for (const p of look.located(key, () => locate(d, file, quote.length, chain, look))) {
        if (found.has(p)) continue;
        found.add(p);
        queue.push(p);
      }
    }
  }
  for (const m of computed) if (defined.has(m) || inv.compileArgv.some((a) => namesMacro(a, m))) return null;
  // The same names in directories searched earlier (libstdc++'s <stdlib.h> before glibc's, reached by #include_next):
  // not read, but a check after the job refuses a candidate found here that the job could not see.
  const earlier = [...found].flatMap((f) => look.located(`e${f}`, () => shadowsOf(f, chain, look)));
  return [...new Set([...found, ...earlier])];
}

/** The files named as `file` is under a search directory, in directories searched before that one. */
function shadowsOf(file: string, chain: readonly string[], look: Session): string[] {
  const out: string[] = [];
  chain.forEach((dir, i) => {
    const prefix = dir === "/" ? dir : `${dir}/`;
    if (!file.startsWith(prefix)) return;
    const name = file.slice(prefix.length);
    for (const before of chain.slice(0, i)) {
      const path = resolve(before, name);
      if (path !== file && look.isFile(path)) out.push(path);
    }
  });
  return out;
}

/** Whether an argument names `macro` anywhere (`-DM`, `-D M`, `--define-macro=M=…`): more than a definition, never less. */
function namesMacro(arg: string, macro: string): boolean {
  for (let at = arg.indexOf(macro); at >= 0; at = arg.indexOf(macro, at + 1)) {
    if (!isWordChar(arg.charCodeAt(at - 1)) && !isWordChar(arg.charCodeAt(at + macro.length))) return true;
  }
  return false;
}

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** A directive whose argument is no name nor macro: nothing can say what it includes. */
const UNKNOWN = "unknown";

const FORCED_INCLUDE = /^-(include|imacros)/;
/** glibc's header that gcc, and clang on Linux, include before the source, found through the angle search. */
const IMPLICIT_PREINCLUDE = "stdc-predef.h";

interface Directive {
  name: string;
  quoted: boolean;
  next: boolean;
}

interface Directives {
  list: readonly Directive[];
  /** The macros directives name instead of a file (`#include LUA_USER_H`), or UNKNOWN. */
  computed: readonly string[] | typeof UNKNOWN;
  /** The macros the file `#define`s. */
  defines: readonly string[];
}

/** Where `d` of `file` finds its file: the first candidate present, or, for `#include_next`, the first after each directory `file` lies in. */
function locate(d: Directive, file: string, quoteCount: number, chain: readonly string[], look: Session): string[] {
  if (isAbsolute(d.name)) return look.isFile(d.name) ? [resolve(d.name)] : [];
  const first = (dirs: readonly string[]) => {
    for (const dir of dirs) {
      const path = resolve(dir, d.name);
      if (look.isFile(path)) return [path];
    }
    return [];
  };
  const from = d.quoted ? 0 : quoteCount;
  if (d.next) {
    const starts = chain.flatMap((dir, i) => (i >= from && file.startsWith(dir === "/" ? dir : `${dir}/`) ? [i + 1] : []));
    // Not found through the search (the source itself): gcc takes it as a plain #include.
    if (starts.length) return [...new Set(starts.flatMap((i) => first(chain.slice(i))))];
  }
  return first(d.quoted ? [dirname(file), ...chain] : chain.slice(from));
}

// At a '#' that starts its line (after blanks); the name ends at blanks or at its delimiter.
const DIRECTIVE_AT = /#[ \t]*(include_next|include|import)(?:[ \t]+|(?=["<]))([^\r\n]*)/y;

/**
 * Each file's directives by path, kept while its identity holds; each
 * directory's entries likewise; where each name was found, per include
 * search, while no directory looked at changed. What was checked less than
 * `FRESH_MS` ago is taken without a stat: a build's jobs share most headers,
 * and a stale answer costs one rejected job, never a wrong output.
 */
export class PredictionMemo {
  private readonly files = new BoundedMap<string, { identity: string; directives: Directives; at: number }>(50_000);
  private readonly dirs = new BoundedMap<string, { identity: string; entries: ReadonlySet<string> | undefined }>(20_000);
  /** By include search, then by name and where it is looked for. */
  private readonly places = new BoundedMap<string, BoundedMap<string, readonly string[]>>(64);
  private dirsCheckedAt = -Infinity;

  constructor(private readonly clock: () => number = Date.now) {}

  /** One prediction's view, on the include search `searchKey` names. */
  session(searchKey: string): Session {
    const now = this.clock();
    if (now - this.dirsCheckedAt >= FRESH_MS) this.checkDirs(now);
    let places = this.places.get(searchKey);
    if (!places) this.places.set(searchKey, (places = new BoundedMap(100_000)));
    const found = places;
    return {
      isFile: (path) => this.entries(dirname(path))?.has(basename(path)) === true,
      directives: (file, check) => this.directives(file, now, check),
      located: (key, locate) => {
        let paths = found.get(key);
        if (!paths) found.set(key, (paths = locate()));
        return paths;
      },
    };
  }

  /** Every directory looked at is stat'ed again: one that changed is listed again, and no name's place is kept. */
  private checkDirs(now: number): void {
    this.dirsCheckedAt = now;
    let changed = false;
    for (const [dir, known] of this.dirs.entries()) {
      if (identityOfDir(dir) === known.identity) continue;
      this.dirs.delete(dir);
      changed = true;
    }
    if (changed) this.places.clear();
  }

  private entries(dir: string): ReadonlySet<string> | undefined {
    const known = this.dirs.get(dir);
    if (known) return known.entries;
    const identity = identityOfDir(dir);
    let entries: Set<string> | undefined;
    try {
      // Directories are never what an include names; anything else (a symlink too) may be.
      if (identity) entries = new Set(readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [] : [e.name])));
    } catch {
      entries = undefined;
    }
    this.dirs.set(dir, { identity, entries });
    return entries;
  }

  private directives(file: string, now: number, check: boolean): Directives | undefined {
    const known = this.files.get(file);
    if (known && !check && now - known.at < FRESH_MS) return known.directives;
    const st = statOrUndefined(file);
    if (!st) return undefined;
    const identity = identityOf(st);
    if (known?.identity === identity) {
      known.at = now;
      return known.directives;
    }
    let text: string;
    try {
      text = readFileSync(file, "latin1");
    } catch {
      return undefined;
    }
    const directives = parseDirectives(text);
    this.files.set(file, { identity, directives, at: now });
    return directives;
  }
}

/** How long a file's directives and the directories' entries are taken as checked. */
const FRESH_MS = 2000;

interface Session {
  isFile(path: string): boolean;
  /** `check`: stat it whatever the memo says (the call's own source). */
  directives(file: string, check: boolean): Directives | undefined;
  /** Where `key` (a directive's name and where it is looked for) finds its files: remembered, else `locate()`. */
  located(key: string, locate: () => readonly string[]): readonly string[];
}

const sharedMemo = new PredictionMemo();

function statOrUndefined(path: string): Stats | undefined {
  try {
    // Most paths asked about do not exist: no exception for those.
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** A directory's identity; "" when it is none. */
function identityOfDir(dir: string): string {
  const st = statOrUndefined(dir);
  return st?.isDirectory() ? identityOf(st) : "";
}

function identityOf(st: Stats): string {
  return `${st.dev} ${st.ino} ${st.size} ${st.mtimeMs} ${st.ctimeMs}`;
}

/**
 * Every include directive of a file, read as text: conditions and comments
 * are not followed (a directive never taken only adds a file to carry). Each
 * '#' is found by `indexOf` and tried only where blanks alone precede it.
 */
export function parseDirectives(text: string): Directives {
  const list: Directive[] = [];
  const computed: string[] = [];
  const defines: string[] = [];
  let unknown = false;
  for (let at = text.indexOf("#"); at >= 0; at = text.indexOf("#", at + 1)) {
    if (!startsLine(text, at)) continue;
    DEFINE_AT.lastIndex = at;
    const def = DEFINE_AT.exec(text);
    if (def) {
      defines.push(def[1]!);
      continue;
    }
    DIRECTIVE_AT.lastIndex = at;
    const m = DIRECTIVE_AT.exec(text);
    if (!m) continue;
    at = DIRECTIVE_AT.lastIndex - 1;
    const arg = m[2]!.trim();
    const close = arg.startsWith('"') ? '"' : arg.startsWith("<") ? ">" : undefined;
    const end = close ? arg.indexOf(close, 1) : -1;
    if (end > 1) {
      list.push({ name: arg.slice(1, end), quoted: close === '"', next: m[1] === "include_next" });
      continue;
    }
    const macro = close ? undefined : MACRO.exec(arg)?.[0];
    if (macro) computed.push(macro);
    else unknown = true;
  }
  return { list, computed: unknown ? UNKNOWN : computed, defines };
}

const DEFINE_AT = /#[ \t]*define[ \t]+([A-Za-z_]\w*)/y;
const MACRO = /^[A-Za-z_]\w*/;

/** Only blanks between the line's start and `at`. */
function startsLine(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i--;
  return i < 0 || text.charCodeAt(i) === 0x0a || text.charCodeAt(i) === 0x0d;
}

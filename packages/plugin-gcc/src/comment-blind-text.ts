/**
 * A C-family file with its comments blanked, for the engine's text digest
 * (`textDigest` hook): two files whose blanked texts are equal give the
 * preprocessor the same tokens at the same lines and columns, with the same
 * line structure (directives, where they end). Whenever the lexer meets
 * something it cannot be sure of, it answers `text: null` (the file's exact
 * bytes decide), never a guess: a wrong answer would serve a wrong object.
 *
 * - a `//` comment, or a block comment within one line, becomes as many
 *   spaces; spaces and tabs ending a line are trimmed (so an edit in a
 *   comment ending its line changes nothing);
 * - a block comment over several lines becomes spaces with its newlines kept
 *   when nothing but whitespace precedes it on its logical line; otherwise
 *   its `/*` and `*\/` stay (a newline inside a comment does not end a
 *   logical line: `int a; /*⏎*\/ #define` is no directive);
 * - a comment the compiler may read is kept as it is: with a line splice,
 *   `/*` inside, a byte outside printable ASCII (gcc's -Wbidi-chars), or
 *   "fall" (gcc's -Wimplicit-fallthrough reads `/* FALLTHROUGH *\/`).
 */

/**
 * How the compile's language reads a `'` right after a number: "c++" (C++14
 * and later) as a digit separator; "c" cannot tell (older C and C++ read a
 * character literal, C23 a separator), so such a file keeps its exact bytes.
 */
export type TextDialect = "c" | "c++";

export interface CommentBlindText {
  /** The text with comments blanked; null when only the file's exact bytes can tell. */
  text: Buffer | null;
  /** The file uses `#embed`/`__has_embed` (the bytes of another file reach the compile) or turns on a warning that reads comments: no file of the compile is compared by text. */
  embeds: boolean;
}

const NL = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const STAR = 0x2a;

class Bail extends Error {}

const HEADER_DIRECTIVES = new Set(["include", "include_next", "import"]);
const HAS_INCLUDE = new Set(["__has_include", "__has_include_next", "__has_include__", "__has_include_next__"]);
const RAW_PREFIXES = new Set(["R", "LR", "uR", "UR", "u8R"]);

/** The directive state after identifier `name`: where a header-name may follow. */
function nextDirectiveState(state: number, name: string): number {
  if (state === 1) return HEADER_DIRECTIVES.has(name) ? 2 : name === "pragma" ? 3 : 0;
  if (state === 3) return name === "GCC" ? 4 : 0;
  if (state === 4) return name === "dependency" ? 2 : 0;
  return 0;
}

const isIdentStart = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x24 || c >= 0x80;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isIdentChar = (c: number) => isIdentStart(c) || isDigit(c);
const isHorizontalSpace = (c: number) => c === SPACE || c === TAB || c === 0x0b || c === 0x0c;

/**
 * Warnings that read comments or spacing, named in a file (`#pragma clang
 * diagnostic warning "-Wdocumentation"`, `_Pragma(...)`): once one is on, an
 * edit in *any* file's comments may change the compile's diagnostics, so the
 * whole compile is compared by exact bytes (as for `#embed`).
 */
const COMMENT_READING_WARNINGS = ["-Wdocumentation", "-Weverything", "-Wtrailing-whitespace", "-Wleading-whitespace"];

export function commentBlindText(data: Buffer, dialect: TextDialect): CommentBlindText {
  if (COMMENT_READING_WARNINGS.some((w) => data.includes(w))) return { text: null, embeds: true };
  try {
    return new Lexer(data, dialect).run();
  } catch (err) {
    if (err instanceof Bail) return { text: null, embeds: false };
    throw err;
  }
}

class Lexer {
  private readonly out: Buffer;
  /** Physical lines (by index) whose trailing whitespace belongs to a token (an unterminated literal runs to the line's end). */
  private readonly keepTrailing = new Set<number>();
  private lineHasToken = false;
  /** 1: after a `#` opening a logical line; 2: a header-name may follow (#include, #import, #pragma GCC dependency); 3: after `#pragma`; 4: after `#pragma GCC`. */
  private directive = 0;
  /** 1: after `__has_include`; 2: after its `(`. */
  private hasInclude = 0;
  private embeds = false;

  constructor(
    private readonly data: Buffer,
    private readonly dialect: TextDialect,
  ) {
    this.out = Buffer.from(data);
  }

  run(): CommentBlindText {
    this.prescan();
    const d = this.data;
    // A UTF-8 byte order mark is skipped by gcc and clang: the line's first token comes after it.
    let i = d[0] === 0xef && d[1] === 0xbb && d[2] === 0xbf ? 3 : 0;
    while (i < d.length) {
      const c = d[i]!;
      if (c === NL) {
        this.newline();
        i++;
      } else if (c === CR) {
        if (d[i + 1] !== NL) throw new Bail();
        i++;
      } else if (isHorizontalSpace(c)) {
        i++;
      } else if (c === BACKSLASH && this.spliceLength(i) > 0) {
        i += this.spliceLength(i);
      } else if (c === SLASH && this.at(this.next(i)) === SLASH) {
        i = this.lineComment(i);
      } else if (c === SLASH && this.at(this.next(i)) === STAR) {
        i = this.blockComment(i);
      } else {
        i = this.token(i);
      }
    }
    if (this.embeds) return { text: null, embeds: true };
    return { text: this.trimmed(), embeds: false };
  }

  /** Whole-file reasons to trust only the exact bytes. */
  private prescan(): void {
    const d = this.data;
    if (d.includes(0)) throw new Bail();
    for (let i = d.indexOf("??"); i >= 0; i = d.indexOf("??", i + 1)) {
      // Any trigraph: with -trigraphs (or a strict -std) `??/` splices lines and `??=` opens directives.
      if ("=/'()!<>-".includes(String.fromCharCode(d[i + 2] ?? 0))) throw new Bail();
    }
    for (let i = d.indexOf(BACKSLASH); i >= 0; i = d.indexOf(BACKSLASH, i + 1)) {
      // Backslash, whitespace, newline: gcc splices and warns; trimming would make it a silent splice.
      let j = i + 1;
      while (j < d.length && isHorizontalSpace(d[j]!)) j++;
      if (j > i + 1 && (d[j] === NL || (d[j] === CR && d[j + 1] === NL))) throw new Bail();
    }
    // A lone carriage return ends a line for gcc, also inside a `//` comment.
    for (let i = d.indexOf(CR); i >= 0; i = d.indexOf(CR, i + 1)) if (d[i + 1] !== NL) throw new Bail();
  }

  private newline(): void {
    this.lineHasToken = false;
    this.directive = 0;
    this.hasInclude = 0;
  }

  /** 2 or 3 when a backslash-newline (a line splice) starts at `i`, else 0. */
  private spliceLength(i: number): number {
    const d = this.data;
    if (d[i] !== BACKSLASH) return 0;
    if (d[i + 1] === NL) return 2;
    if (d[i + 1] === CR && d[i + 2] === NL) return 3;
    return 0;
  }

  /** The position of the next character after `i`'s, line splices skipped. */
  private next(i: number): number {
    let j = i + 1;
    for (let s = this.spliceLength(j); s > 0; s = this.spliceLength(j)) j += s;
    return j;
  }

  private at(i: number): number {
    return i < this.data.length ? this.data[i]! : -1;
  }

  private lineComment(start: number): number {
    const d = this.data;
    let spliced = false;
    let i = start;
    while (i < d.length && d[i] !== NL && !(d[i] === CR && d[i + 1] === NL)) {
      const s = this.spliceLength(i);
      if (s > 0) {
        spliced = true;
        i += s;
      } else i++;
    }
    if (!spliced && this.blankable(start + 2, i)) this.blank(start, i);
    return i;
  }

  private blockComment(start: number): number {
    const d = this.data;
    let i = this.next(this.next(start));
    let spliced = false;
    let multiline = false;
    for (;;) {
      if (i >= d.length) throw new Bail(); // unterminated: an error, and nothing to reason about
      const s = this.spliceLength(i);
      if (s > 0) {
        spliced = true;
        i += s;
        continue;
      }
      if (d[i] === NL) multiline = true;
      if (d[i] === STAR && this.at(this.next(i)) === SLASH) {
        i = this.next(i) + 1;
        break;
      }
      i++;
    }
    if (spliced || !this.blankable(start + 2, i - 2)) return i;
    // Kept delimiters keep a comment that joins two physical lines into one logical line a comment.
    const keepDelimiters = multiline && this.lineHasToken;
    const from = keepDelimiters ? start + 2 : start;
    const to = keepDelimiters ? i - 2 : i;
    this.blank(from, to);
    return i;
  }

  /** Spaces over a comment's bytes; newlines stay, and tabs (gcc's -Wmisleading-indentation counts columns with tabs expanded). */
  private blank(from: number, to: number): void {
    const d = this.data;
    for (let j = from; j < to; j++) if (d[j] !== NL && d[j] !== CR && d[j] !== TAB) this.out[j] = SPACE;
  }

  /** Whether a comment's text (`from`..`to`) may be blanked: nothing in it the compiler reads. */
  private blankable(from: number, to: number): boolean {
    const d = this.data;
    for (let j = from; j < to; j++) {
      const c = d[j]!;
      if (c >= 0x80 || (c < SPACE && c !== TAB && c !== NL && c !== CR)) return false;
      if (c === SLASH && d[j + 1] === STAR) return false; // -Wcomment warns about it
      if ((c | 0x20) === 0x66 && (d[j + 1]! | 0x20) === 0x61 && (d[j + 2]! | 0x20) === 0x6c && (d[j + 3]! | 0x20) === 0x6c) return false;
    }
    return true;
  }

  /** One preprocessing token starting at `i` (not whitespace, not a comment); returns where the next begins. */
  private token(i: number): number {
    const d = this.data;
    const c = d[i]!;
    const headerName = this.directive === 2 || this.hasInclude === 2;
    const wasFirst = !this.lineHasToken;
    this.lineHasToken = true;
    if (headerName && (c === 0x3c || c === 0x22)) {
      const end = this.headerName(i, c === 0x3c ? 0x3e : 0x22);
      if (end !== undefined) {
        this.directive = 0;
        this.hasInclude = 0;
        return end;
      }
    }
    if (c === 0x22 || c === 0x27) return this.after(this.literal(i, c));
    if (isDigit(c) || (c === 0x2e && isDigit(this.at(this.next(i))))) return this.after(this.ppNumber(i));
    if (isIdentStart(c)) return this.identifier(i);
    if (wasFirst && (c === 0x23 || (c === 0x25 && this.at(this.next(i)) === 0x3a))) {
      this.directive = 1;
      this.hasInclude = 0;
      return c === 0x23 ? i + 1 : this.next(i) + 1;
    }
    const end = i + 1;
    if (this.hasInclude === 1 && c === 0x28) {
      this.hasInclude = 2;
      this.directive = 0;
      return end;
    }
    return this.after(end);
  }

  /** After a token that opens nothing: no header-name may follow. */
  private after(end: number): number {
    this.directive = 0;
    this.hasInclude = 0;
    return end;
  }

  private identifier(i: number): number {
    const d = this.data;
    let j = i;
    let spliced = false;
    while (j < d.length && isIdentChar(d[j]!)) {
      const n = this.next(j);
      if (n !== j + 1) spliced = true;
      j = n;
    }
    // The name matters only in a directive, as a raw string's prefix (before a `"`) or as `__has_include`/`__has_embed`;
    // anywhere else it opens nothing, and making its string cost a third of the lexing.
    if (!spliced && this.directive === 0 && !(d[j] === 0x22 && j - i <= 3) && !startsWithHas(d, i, j)) {
      this.hasInclude = 0;
      return j;
    }
    const name = spliced ? this.splicedName(i, j) : d.toString("latin1", i, j);
    if (d[j] === 0x22 && RAW_PREFIXES.has(name)) throw new Bail(); // a raw string: anything may be inside it
    if (name === "__has_embed" || (this.directive === 1 && name === "embed")) this.embeds = true;
    const directive = nextDirectiveState(this.directive, name);
    this.hasInclude = HAS_INCLUDE.has(name) ? 1 : 0;
    this.directive = directive;
    return j;
  }

  /** The identifier's characters from `i` to `end`, line splices left out. */
  private splicedName(i: number, end: number): string {
    const chars: number[] = [];
    for (let j = i; j < end; j = this.next(j)) chars.push(this.data[j]!);
    return Buffer.from(chars).toString("latin1");
  }

  /** A pp-number; in C++ a `'` followed by a digit or letter continues it (a digit separator). */
  private ppNumber(i: number): number {
    const d = this.data;
    let j = i;
    for (;;) {
      const c = this.at(j);
      const n = this.next(j);
      if (isIdentChar(c) || c === 0x2e) {
        const sign = this.at(n);
        const exponent = (c | 0x20) === 0x65 || (c | 0x20) === 0x70;
        j = exponent && (sign === 0x2b || sign === 0x2d) ? this.next(n) : n;
      } else if (c === 0x27 && isIdentChar(this.at(n))) {
        // C++14 and C23 read a digit separator, older C and C++ a character literal: only a dialect that knows may go on.
        if (this.dialect !== "c++") throw new Bail();
        j = n;
      } else return j < d.length ? j : d.length;
    }
  }

  /** A string or character literal (escapes honoured); one cut by a newline runs to the line's end, as gcc and clang lex it. */
  private literal(i: number, quote: number): number {
    const d = this.data;
    let j = this.next(i);
    while (j < d.length) {
      const c = d[j]!;
      if (c === NL || (c === CR && d[j + 1] === NL)) {
        this.keepTrailing.add(this.lineOf(j));
        return j;
      }
      if (c === quote) return this.next(j);
      j = c === BACKSLASH ? this.next(this.next(j)) : this.next(j);
    }
    return j;
  }

  /** A header-name after `#include` or `__has_include(`: no escapes and no comments inside; undefined when the line ends first (`<` is then a punctuator). */
  private headerName(i: number, close: number): number | undefined {
    const d = this.data;
    for (let j = i + 1; j < d.length; j++) {
      const c = d[j]!;
      if (c === NL || c === CR) return undefined;
      if (c === BACKSLASH || (c === SLASH && (d[j + 1] === SLASH || d[j + 1] === STAR))) throw new Bail();
      if (c === close) return j + 1;
    }
    return undefined;
  }

  private lineStarts: number[] | undefined;

  /** The physical line (0-based) of position `pos`. */
  private lineOf(pos: number): number {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let k = this.data.indexOf(NL); k >= 0; k = this.data.indexOf(NL, k + 1)) this.lineStarts.push(k + 1);
    }
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * The blanked text with each line's trailing spaces and tabs dropped (kept where they end an unterminated literal),
   * compacted within `out` itself: what is kept only ever moves towards the start.
   */
  private trimmed(): Buffer {
    const src = this.out;
    let kept = 0;
    const keep = (from: number, to: number) => {
      if (from !== kept) src.copyWithin(kept, from, to);
      kept += to - from;
    };
    let lineStart = 0;
    let line = 0;
    for (;;) {
      const nl = src.indexOf(NL, lineStart);
      const end = nl < 0 ? src.length : nl;
      const contentEnd = end > lineStart && src[end - 1] === CR ? end - 1 : end;
      let cut = contentEnd;
      while (cut > lineStart && (src[cut - 1] === SPACE || src[cut - 1] === TAB)) cut--;
      // A backslash before blanked comments would now splice lines (the original has no backslash-space-newline).
      if (cut < contentEnd && cut > lineStart && src[cut - 1] === BACKSLASH) throw new Bail();
      if (this.keepTrailing.has(line)) cut = contentEnd;
      keep(lineStart, cut);
      keep(contentEnd, nl < 0 ? src.length : nl + 1);
      if (nl < 0) break;
      lineStart = nl + 1;
      line++;
    }
    return withoutTrailingBlankLines(src.subarray(0, kept));
  }
}

/** `d[i..end)` starts with `__has_` (`__has_include`, `__has_include_next`, `__has_embed` and their `__` forms). */
function startsWithHas(d: Buffer, i: number, end: number): boolean {
  return end - i > 6 && d[i] === 0x5f && d[i + 1] === 0x5f && d[i + 2] === 0x68 && d[i + 3] === 0x61 && d[i + 4] === 0x73 && d[i + 5] === 0x5f;
}

/**
 * Blank lines ending the file hold no token (a comment appended to a header
 * leaves one): dropped, keeping the newline that ends the last line with
 * text. Kept after a backslash, which would then splice into nothing.
 */
function withoutTrailingBlankLines(text: Buffer): Buffer {
  let last = text.length - 1;
  while (last >= 0 && (text[last] === NL || text[last] === CR)) last--;
  if (last < 0 || text[last] === BACKSLASH) return text;
  const ending = text[last + 1] === CR && text[last + 2] === NL ? 2 : text[last + 1] === NL ? 1 : 0;
  return text.subarray(0, last + 1 + ending);
}

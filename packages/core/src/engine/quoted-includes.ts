import { readFileSync } from "node:fs";
import { growingLru } from "../util/growing-lru.js";
import { hashBytes } from "../hashing/key-hasher.js";

/**
 * The names a file includes with quotes (`#include "x.h"`, `#include_next`,
 * `#import`), which the compiler looks for in the file's own directory
 * first; `computed` when a directive names a macro (its name is unknown).
 * Read as text, conditions ignored: a directive never taken only adds a
 * candidate. Comments are not stripped, for the same reason.
 */
export interface QuotedIncludes {
  names: readonly string[];
  computed: boolean;
}

// At a '#' that starts its line (after blanks): the directive's name ends at blanks or at the name's delimiter
// ("#include's" in a comment is none).
const DIRECTIVE_AT = /#[ \t]*(?:include_next|include|import)(?:[ \t]+|(?=["<]))([^\r\n]*)/y;

/** By path and content hash: a header is read once per content, not once per store. */
const byContent = growingLru<string, QuotedIncludes>(50_000);

/**
 * The quoted includes of `file`, whose content hash is `hash` (undefined when
 * unreadable: treated as computed). `remember`: false for a file read once
 * (a miss's source), neither looked up nor hashed to be kept.
 */
export function quotedIncludes(file: string, hash: string, remember = true): QuotedIncludes {
  const memoKey = `${file}\0${hash}`;
  const known = remember ? byContent.get(memoKey) : undefined;
  if (known) return known;
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return { names: [], computed: true };
  }
  const found = parse(data.toString("latin1"));
  // Only the content the caller hashed is filed under its hash.
  if (remember && hashBytes(data) === hash) byContent.set(memoKey, found);
  return found;
}

/**
 * Each '#' is found by `indexOf` and tried only where blanks alone precede it
 * on its line: a multiline regex tried every position of the text, seven to
 * ten times slower over a closure's headers.
 */
function parse(text: string): QuotedIncludes {
  const names = new Set<string>();
  let computed = false;
  for (let hash = text.indexOf("#"); hash >= 0; hash = text.indexOf("#", hash + 1)) {
    if (!startsLine(text, hash)) continue;
    DIRECTIVE_AT.lastIndex = hash;
    const m = DIRECTIVE_AT.exec(text);
    if (!m) continue;
    // The rest of the line was taken: no other directive starts on it.
    hash = DIRECTIVE_AT.lastIndex - 1;
    const arg = m[1]!.trim();
    if (arg.startsWith('"')) {
      const end = arg.indexOf('"', 1);
      if (end > 1) names.add(arg.slice(1, end));
      else computed = true;
    } else if (!arg.startsWith("<")) {
      computed = true;
    }
  }
  return { names: [...names], computed };
}

/** Only blanks between the line's start (after "\n" or "\r") and `at`. */
function startsLine(text: string, at: number): boolean {
  let i = at - 1;
  for (; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) break;
  }
  if (i < 0) return true;
  const c = text.charCodeAt(i);
  return c === 0x0a || c === 0x0d;
}

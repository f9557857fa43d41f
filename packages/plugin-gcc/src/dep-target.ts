/**
 * The target of a Make dependency file (`-MD`/`-MMD`) names the object, so a
 * cached dependency file made for one `-o` must be rewritten for another. The
 * compiler wraps the first rule's line by column, and the columns depend on
 * the target's length, so the whole first rule is laid out again the way the
 * compiler lays it out; everything after it (`-MP` phony rules) is kept.
 */

/** How one compiler family lays out the first rule: printed targets and printed prerequisites in, text out (with its newline). */
export type DepRuleLayout = (targets: readonly string[], prerequisites: readonly string[]) => string | undefined;

/** Make's quoting of a target given with `-MQ` (and of the default target, which the drivers pass as `-MQ <-o>`). */
export function quoteMakeTarget(target: string): string {
  let out = "";
  for (let i = 0; i < target.length; i++) {
    const c = target[i]!;
    if (c === " " || c === "\t") {
      for (let j = i - 1; j >= 0 && target[j] === "\\"; j--) out += "\\";
      out += "\\";
    } else if (c === "$") out += "$";
    else if (c === "#") out += "\\";
    out += c;
  }
  return out;
}

/** GCC 12 (libcpp mkdeps.cc): a name that would pass column 72 starts a new line, " \" then " name". */
export const gccRuleLayout: DepRuleLayout = (targets, prerequisites) => {
  const COLMAX = 72;
  let col = 0;
  let out = "";
  const put = (name: string) => {
    if (col) {
      if (col + name.length > COLMAX) {
        out += " \\\n";
        col = 0;
      }
      col++;
      out += " ";
    }
    col += name.length;
    out += name;
  };
  targets.forEach(put);
  out += ":";
  col++;
  prerequisites.forEach(put);
  return `${out}\n`;
};

/** Clang 14 (DependencyFile.cpp): 75 columns, prerequisites measured unescaped, continuation lines indented differently for targets. */
export const clangRuleLayout: DepRuleLayout = (targets, prerequisites) => {
  const MAX = 75;
  let cols = 0;
  let out = "";
  for (const t of targets) {
    if (cols === 0) cols += t.length;
    else if (cols + t.length + 2 > MAX) {
      cols = t.length + 2;
      out += " \\\n  ";
    } else {
      cols += t.length + 1;
      out += " ";
    }
    out += t;
  }
  out += ":";
  cols++;
  for (const p of prerequisites) {
    // The unescaped length is what clang counts; names with escapes are not laid out again.
    if (/[\\$#]/.test(p)) return undefined;
    if (cols + p.length + 1 + 2 > MAX) {
      out += " \\\n ";
      cols = 2;
    }
    out += ` ${p}`;
    cols += p.length + 1;
  }
  return `${out}\n`;
};

interface FirstRule {
  targets: string[];
  prerequisites: string[];
  /** Everything after the first rule's final newline. */
  rest: string;
}

/** Splits the first rule into its printed words; undefined when the text is not laid out as the compilers write it. */
export function parseFirstRule(text: string): FirstRule | undefined {
  let end = text.indexOf("\n");
  while (end > 0 && text[end - 1] === "\\") end = text.indexOf("\n", end + 1);
  if (end < 0) return undefined;
  // Runs on every hit: plain splits, then a space after an odd run of backslashes joined back into its name.
  const words: string[] = [];
  for (const line of text.slice(0, end).split("\\\n")) {
    const lineWords: string[] = [];
    for (const piece of line.split(" ")) {
      const last = lineWords.length - 1;
      if (last >= 0 && escaped(lineWords[last]!)) lineWords[last] += ` ${piece}`;
      else if (piece) lineWords.push(piece);
    }
    words.push(...lineWords);
  }
  const colon = words.findIndex((w) => w.endsWith(":") && !escaped(w.slice(0, -1)));
  if (colon < 0) return undefined;
  const targets = words.slice(0, colon + 1);
  targets[colon] = targets[colon]!.slice(0, -1);
  if (!targets[colon]) return undefined;
  return { targets, prerequisites: words.slice(colon + 1), rest: text.slice(end + 1) };
}


/** Whether a word so far ends in an odd run of backslashes (the next space is part of the name). */
function escaped(word: string): boolean {
  let n = 0;
  for (let i = word.length - 1; i >= 0 && word[i] === "\\"; i--) n++;
  return n % 2 === 1;
}

/** The dependency file `text` with its first rule naming `targets` (printed form), or undefined when it cannot be laid out exactly. */
export function rewriteDepTargets(text: string, targets: readonly string[], layout: DepRuleLayout): string | undefined {
  const rule = parseFirstRule(text);
  if (!rule) return undefined;
  const head = layout(targets, rule.prerequisites);
  return head === undefined ? undefined : head + rule.rest;
}

import { resolve } from "node:path";

/**
 * Parses a Make-format dependency file (as written by `-MD`, `-M`, rustc's
 * `--emit=dep-info`) into the prerequisite paths, absolute against `cwd`.
 * Targets are dropped; phony targets (`-MP`) add nothing new.
 */
export function parseDepFile(text: string, cwd: string): string[] {
  return parseDepFileWithEnv(text, cwd).files;
}

export interface DepFileContents {
  files: string[];
  /** `# env-dep:NAME=value` lines (rustc): variables the compile read; null value = unset. */
  env: { name: string; value: string | null }[];
}

export function parseDepFileWithEnv(text: string, cwd: string): DepFileContents {
  const env: DepFileContents["env"] = [];
  for (const m of text.matchAll(/^# env-dep:([^=\r\n]+)(?:=(.*))?$/gm)) {
    env.push({ name: m[1]!, value: m[2] === undefined ? null : unescapeEnvValue(m[2]) });
  }
  return { files: parseFiles(text, cwd), env };
}

/** rustc escapes backslashes and line breaks in env-dep values. */
function unescapeEnvValue(v: string): string {
  return v.replace(/\\(\\|n|r)/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\"));
}

function parseFiles(text: string, cwd: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  // Join continuation lines; keep escaped spaces ("\ ") and "$$" as make does.
  const joined = text.replace(/\\\r?\n/g, " ");
  for (const line of joined.split(/\r?\n/)) {
    if (!line.trim() || line.startsWith("#")) continue;
    const colon = findRuleColon(line);
    if (colon < 0) continue;
    for (const word of splitWords(line.slice(colon + 1))) {
      const path = absoluteOf(word, cwd);
      if (!seen.has(path)) {
        seen.add(path);
        out.push(path);
      }
    }
  }
  return out;
}

/** A segment "", "." or "..": the path is not already in the form `resolve` gives. */
const UNNORMAL = /\/\.{0,2}(?:\/|$)/;

/**
 * `word` absolute against `cwd`, as `resolve` gives it. Most words of a
 * compiler's dependency file already are: those are copied rather than
 * resolved (a slice would keep the whole dependency text alive in every
 * long-lived map the path is a key of; slicing a rope copies it first).
 */
function absoluteOf(word: string, cwd: string): string {
  if (word.charCodeAt(0) !== 0x2f || UNNORMAL.test(word)) return resolve(cwd, word);
  return ` ${word}`.slice(1);
}

/** The colon separating targets from prerequisites; skips "C:" style drive letters and escaped colons. */
function findRuleColon(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === ":" && (line[i + 1] === " " || line[i + 1] === "\t" || i + 1 === line.length)) return i;
  }
  return -1;
}

const SPACE = 0x20;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const DOLLAR = 0x24;
const HASH = 0x23;
const COLON = 0x3a;

/**
 * The words of a rule's prerequisites. Each word is a slice of the line,
 * joined with what an escape stands for only where there is one: a word
 * built a character at a time was a rope that `resolve` flattened again,
 * most of the parse's cost over a C++ closure of hundreds of headers.
 */
function splitWords(s: string): string[] {
  const words: string[] = [];
  let word = "";
  let from = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === SPACE || c === TAB) {
      if (from >= 0) words.push(word + s.slice(from, i));
      word = "";
      from = -1;
      continue;
    }
    if (from < 0) from = i;
    const next = s.charCodeAt(i + 1);
    if ((c === BACKSLASH && (next === SPACE || next === HASH || next === COLON)) || (c === DOLLAR && next === DOLLAR)) {
      word += s.slice(from, i) + s[i + 1];
      from = ++i + 1;
    }
  }
  if (from >= 0) words.push(word + s.slice(from));
  return words;
}

/**
 * A Make-format dependency text naming `files` (absolute paths), which
 * `parseDepFile` reads back as the same list; undefined when a path holds a
 * character the format cannot carry (line break, tab, backslash).
 */
export function depTextOf(files: readonly string[]): string | undefined {
  if (files.some((f) => /[\n\r\t\\]/.test(f))) return undefined;
  const words = files.map((f) => f.replace(/\$/g, "$$$$").replace(/([ #:])/g, "\\$1"));
  return `deps: ${words.join(" ")}\n`;
}

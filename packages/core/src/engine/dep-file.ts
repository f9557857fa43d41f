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
      const path = resolve(cwd, word);
      if (!seen.has(path)) {
        seen.add(path);
        out.push(path);
      }
    }
  }
  return out;
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

function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length && (s[i + 1] === " " || s[i + 1] === "#" || s[i + 1] === ":")) {
      cur += s[++i];
    } else if (c === "$" && s[i + 1] === "$") {
      cur += "$";
      i++;
    } else if (c === " " || c === "\t") {
      if (cur) words.push(cur);
      cur = "";
    } else cur += c;
  }
  if (cur) words.push(cur);
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

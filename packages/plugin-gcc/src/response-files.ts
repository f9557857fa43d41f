import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Splits the text of a response file the way libiberty's `buildargv` (GCC)
 * and LLVM's GNU tokenizer (clang) do: whitespace separates arguments; single
 * and double quotes group; a backslash makes the next character literal,
 * inside quotes too. Quotes next to other characters join them (`-D'a b'`).
 */
export function splitResponseFile(text: string): string[] {
  const args: string[] = [];
  let cur = "";
  let inArg = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && i + 1 < text.length) {
      cur += text[++i];
      inArg = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inArg = true;
    } else if (/\s/.test(c)) {
      if (inArg) args.push(cur);
      cur = "";
      inArg = false;
    } else {
      cur += c;
      inArg = true;
    }
  }
  if (inArg) args.push(cur);
  return args;
}

export type ExpandResult = { ok: true; args: string[]; usedResponseFiles: boolean } | { ok: false; file: string; detail: string };

/** Nesting deeper than this is taken for a cycle (`@a` naming itself). */
const MAX_DEPTH = 32;

/**
 * Replaces every `@file` argument by the arguments the file holds,
 * recursively. Nested `@file` names are relative to `cwd`, not to the file
 * that names them (checked with GCC 12 and clang 14). A file that cannot be
 * read is an error here, where the compiler would take `@file` for an input
 * named so: Reprise does not guess.
 */
export function expandResponseFiles(
  args: readonly string[],
  cwd: string,
  read: (path: string) => string = (p) => readFileSync(p, "utf8"),
): ExpandResult {
  let used = false;
  const expand = (list: readonly string[], depth: number): string[] | { file: string; detail: string } => {
    const out: string[] = [];
    for (const arg of list) {
      if (!arg.startsWith("@") || arg.length === 1) {
        out.push(arg);
        continue;
      }
      const file = arg.slice(1);
      if (depth >= MAX_DEPTH) return { file, detail: `response files nested deeper than ${MAX_DEPTH}` };
      let text: string;
      try {
        text = read(resolve(cwd, file));
      } catch (err) {
        return { file, detail: `cannot read response file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      }
      used = true;
      const inner = expand(splitResponseFile(text), depth + 1);
      if (!Array.isArray(inner)) return inner;
      out.push(...inner);
    }
    return out;
  };
  const result = expand(args, 0);
  return Array.isArray(result) ? { ok: true, args: result, usedResponseFiles: used } : { ok: false, ...result };
}

import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * One rustc argument after lexing: an option in its canonical long spelling
 * (`-C opt-level=2`, `-Copt-level=2` and `--codegen=opt-level=2` all become
 * `{ name: "codegen", value: "opt-level=2" }`), or a positional input.
 */
export type RustcArg = { kind: "option"; name: string; value?: string; spelling: string } | { kind: "input"; value: string };

/** Long options that take a value (`--name value` or `--name=value`), from `rustc --help -v`. */
const LONG_WITH_VALUE = new Set([
  "cfg",
  "check-cfg",
  "crate-type",
  "crate-name",
  "edition",
  "emit",
  "print",
  "out-dir",
  "explain",
  "target",
  "allow",
  "warn",
  "force-warn",
  "deny",
  "forbid",
  "cap-lints",
  "codegen",
  "extern",
  "sysroot",
  "error-format",
  "json",
  "color",
  "diagnostic-width",
  "remap-path-prefix",
  "remap-path-scope",
  "env-set",
  "unpretty",
]);

/** Long options without a value. */
const LONG_FLAGS = new Set(["help", "version", "verbose", "test"]);

/** Short options that take a value, joined (`-Cfoo`) or separate (`-C foo`), and their long names. */
const SHORT_WITH_VALUE: Record<string, string> = {
  A: "allow",
  W: "warn",
  D: "deny",
  F: "forbid",
  C: "codegen",
  Z: "Z",
  L: "L",
  l: "l",
  o: "o",
};

/** Short flags; they may be clustered (`-vV`). */
const SHORT_FLAGS: Record<string, string> = { h: "help", V: "version", v: "verbose", g: "g", O: "O" };

export type LexResult = { ok: true; args: RustcArg[] } | { ok: false; reason: string; detail: string };

/**
 * Expands `@file` arguments (rustc reads one argument per line from them;
 * cargo uses them when a command line would be too long).
 */
export function expandArgFiles(args: readonly string[], cwd: string): { ok: true; args: string[] } | { ok: false; detail: string } {
  const out: string[] = [];
  for (const a of args) {
    if (a.startsWith("@") && a.length > 1) {
      if (a.startsWith("@shell:")) return { ok: false, detail: `${a}: shell-style argument files are not supported` };
      try {
        const text = readFileSync(resolve(cwd, a.slice(1)), "utf8");
        const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
        if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
        out.push(...lines);
      } catch (err) {
        return { ok: false, detail: `${a}: ${(err as Error).message}` };
      }
    } else out.push(a);
  }
  return { ok: true, args: out };
}

export function lexRustcArgs(args: readonly string[]): LexResult {
  const out: RustcArg[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-" || !a.startsWith("-")) {
      out.push({ kind: "input", value: a });
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (LONG_FLAGS.has(name)) {
        if (eq >= 0) return { ok: false, reason: "unsupported-option", detail: `${a} takes no value` };
        out.push({ kind: "option", name, spelling: a });
      } else if (LONG_WITH_VALUE.has(name)) {
        let value: string | undefined;
        if (eq >= 0) value = a.slice(eq + 1);
        else if (i + 1 < args.length) value = args[++i]!;
        else return { ok: false, reason: "unsupported-option", detail: `${a} lacks its value` };
        out.push({ kind: "option", name, value, spelling: a });
      } else return { ok: false, reason: "unsupported-option", detail: a };
      continue;
    }
    const letter = a[1]!;
    const long = SHORT_WITH_VALUE[letter];
    if (long) {
      let value: string;
      if (a.length > 2) value = a.slice(2);
      else if (i + 1 < args.length) value = args[++i]!;
      else return { ok: false, reason: "unsupported-option", detail: `${a} lacks its value` };
      out.push({ kind: "option", name: long, value, spelling: `-${letter}` });
      continue;
    }
    const cluster = a.slice(1);
    if ([...cluster].every((c) => SHORT_FLAGS[c] !== undefined)) {
      for (const c of cluster) out.push({ kind: "option", name: SHORT_FLAGS[c]!, spelling: `-${c}` });
      continue;
    }
    return { ok: false, reason: "unsupported-option", detail: a };
  }
  return { ok: true, args: out };
}

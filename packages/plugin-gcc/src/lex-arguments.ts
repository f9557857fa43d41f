import type { OptionSpec, OptionTable } from "./option-table.js";

/** One argument as the driver sees it: an input, or an option with its value. */
export type LexedArg =
  | { kind: "input"; path: string; tokens: [string] }
  | {
      kind: "option";
      /** Canonical option name from the table, or the whole argument when the table does not know it. */
      name: string;
      /** The value (joined or separate); undefined for flags and unknown options. */
      value?: string;
      /** Second value of a joined-and-separate option. */
      extraValue?: string;
      spec?: OptionSpec;
      /** Whether the value was written in the same argument as the option. */
      joined: boolean;
      /** The argument(s) it was written as. */
      tokens: string[];
    };

export type LexResult = { ok: true; args: LexedArg[] } | { ok: false; detail: string };

export interface LexOptions {
  /**
   * Reject `--` options the table does not know. GCC accepts unambiguous
   * abbreviations of its long options (`--outp x.o`) and maps unknown `--x`
   * to `-fx`, so an unknown long option may hide an output path.
   */
  rejectUnknownLongOptions: boolean;
}

/** Splits driver arguments (without argv[0], response files already expanded) into inputs and options. */
export function lexArguments(args: readonly string[], table: OptionTable, options: LexOptions): LexResult {
  const out: LexedArg[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-" || !arg.startsWith("-")) {
      out.push({ kind: "input", path: arg, tokens: [arg] });
      continue;
    }
    const match = table.lookup(arg);
    if (!match) {
      if (options.rejectUnknownLongOptions && arg.startsWith("--")) return { ok: false, detail: `unknown long option ${arg}` };
      out.push({ kind: "option", name: arg, joined: false, tokens: [arg] });
      continue;
    }
    const { name, spec, joinedValue } = match;
    const takesNext =
      spec.arity === "separate" || spec.arity === "joined-and-separate" || (spec.arity === "joined-or-separate" && joinedValue === undefined);
    if (!takesNext) {
      out.push({ kind: "option", name, spec, joined: true, tokens: [arg], ...(spec.arity === "flag" ? {} : { value: joinedValue ?? "" }) });
      continue;
    }
    const next = args[i + 1];
    if (next === undefined) return { ok: false, detail: `missing argument to ${arg}` };
    i++;
    if (spec.arity === "joined-and-separate") {
      out.push({ kind: "option", name, spec, joined: true, value: joinedValue ?? "", extraValue: next, tokens: [arg, next] });
    } else {
      out.push({ kind: "option", name, spec, joined: false, value: next, tokens: [arg, next] });
    }
  }
  return { ok: true, args: out };
}

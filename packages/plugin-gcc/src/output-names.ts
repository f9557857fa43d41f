import { basename, dirname, extname, join } from "node:path";

/**
 * `path` with the suffix of its last component replaced by `suffix`, or with
 * `suffix` appended when it has none. This is how GCC 12 and clang 14 name
 * the files written next to the object: `-o out/x.o` gives `out/x.d` (-MD),
 * `out/x.dwo` (-gsplit-dwarf), `out/x.gcno` (--coverage), `out/x.su`
 * (-fstack-usage); `-o out/x.y.o` gives `out/x.y.d`; `-o out/x` gives `out/x.d`.
 */
export function replaceSuffix(path: string, suffix: string): string {
  const base = basename(path);
  const ext = extname(base);
  const stem = ext ? base.slice(0, -ext.length) : base;
  return join(dirname(path), stem + suffix);
}

/** What `-c` (`.o`) or `-S` (`.s`) writes without `-o`: the source's base name with that suffix, in the working directory. */
export function defaultObjectName(source: string, suffix: ".o" | ".s" = ".o"): string {
  return replaceSuffix(basename(source), suffix);
}

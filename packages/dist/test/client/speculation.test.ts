import { describe, expect, it } from "vitest";
import type { MissContext } from "@reprise/core";
import { ParsedDepFiles } from "../../src/client/speculation.js";

/** The dependency file a farm job returned, parsed once per text and source (what the speculation check and the store read). */
function ctxOf(source: string): MissContext {
  return { compiler: { identity: "gcc-12" }, request: { cwd: "/proj" }, invocation: { sourceFile: source, includeDirs: [] } } as unknown as MissContext;
}

describe("ParsedDepFiles", () => {
  it("parses a source's returned dependency file once while its text stays the same, and again when any byte differs", () => {
    const parsed = new ParsedDepFiles();
    const a = ctxOf("/proj/a.c");
    const text = "a.o: a.c include/x.h \\\n /usr/include/stdio.h\n";
    const first = parsed.parse(a, text);
    expect(first.files).toEqual(["/proj/a.c", "/proj/include/x.h", "/usr/include/stdio.h"]);
    expect(parsed.parse(a, `${text}`)).toBe(first);
    // A header more (or another path) is a new list, never the remembered one.
    const changed = parsed.parse(a, "a.o: a.c include/x.h include/y.h \\\n /usr/include/stdio.h\n");
    expect(changed.files).toEqual(["/proj/a.c", "/proj/include/x.h", "/proj/include/y.h", "/usr/include/stdio.h"]);
    // Another source with the same text is parsed on its own.
    expect(parsed.parse(ctxOf("/proj/b.c"), text)).not.toBe(first);
  });
});

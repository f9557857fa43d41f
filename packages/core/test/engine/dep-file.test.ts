import { describe, expect, it } from "vitest";
import { parseDepFile } from "../../src/engine/dep-file.js";

describe("parseDepFile", () => {
  it("reads continuation lines, escaped spaces and -MP phony targets", () => {
    const text = "out/a.o: a.c /usr/include/stdio.h \\\n  inc/my\\ header.h x$$y.h\n\ninc/my\\ header.h:\n/usr/include/stdio.h:\n";
    expect(parseDepFile(text, "/w")).toEqual(["/w/a.c", "/usr/include/stdio.h", "/w/inc/my header.h", "/w/x$y.h"]);
  });
  it("handles several targets and rustc's dep-info comments", () => {
    const text = "a.o b.o: s.c\n# env-dep:FOO=1\nlib.rmeta: src/lib.rs\n";
    expect(parseDepFile(text, "/p")).toEqual(["/p/s.c", "/p/src/lib.rs"]);
  });
});

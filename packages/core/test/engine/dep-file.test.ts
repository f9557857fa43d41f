import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { depTextOf, parseDepFile, parseDepFileWithEnv } from "../../src/engine/dep-file.js";

describe("parseDepFile", () => {
  it("reads continuation lines, escaped spaces and -MP phony targets", () => {
    const text = "out/a.o: a.c /usr/include/stdio.h \\\n  inc/my\\ header.h x$$y.h\n\ninc/my\\ header.h:\n/usr/include/stdio.h:\n";
    expect(parseDepFile(text, "/w")).toEqual(["/w/a.c", "/usr/include/stdio.h", "/w/inc/my header.h", "/w/x$y.h"]);
  });
  it("gives every path as resolve does: absolute ones with ., .. or empty segments normalised, others kept", () => {
    const paths = ["/usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/iostream", "/a/./b.h", "/a//b.h", "/a/b/", "/a/b/.", "/a/..", "/", "/a/.b/..c.h", "/a/b.h", "rel/../x.h", "./y.h"];
    expect(parseDepFile(`o.o: ${paths.join(" \\\n ")}\n`, "/w")).toEqual([...new Set(paths.map((p) => resolve("/w", p)))]);
  });
  it("handles several targets and rustc's dep-info comments", () => {
    const text = "a.o b.o: s.c\n# env-dep:FOO=1\nlib.rmeta: src/lib.rs\n";
    expect(parseDepFile(text, "/p")).toEqual(["/p/s.c", "/p/src/lib.rs"]);
  });
});

describe("parseDepFileWithEnv", () => {
  it("reads rustc's env-dep lines, set and unset, with escapes", () => {
    const text = "/t/lib.rmeta: src/lib.rs\n\nsrc/lib.rs:\n\n# env-dep:CARGO_PKG_NAME=demo\n# env-dep:MY_FLAG\n# env-dep:MULTI=a\\nb\\\\c\n";
    const { files, env } = parseDepFileWithEnv(text, "/p");
    expect(files).toEqual(["/p/src/lib.rs"]);
    expect(env).toEqual([
      { name: "CARGO_PKG_NAME", value: "demo" },
      { name: "MY_FLAG", value: null },
      { name: "MULTI", value: "a\nb\\c" },
    ]);
  });
});

describe("depTextOf", () => {
  it("writes a list parseDepFile reads back, spaces, #, : and $ included", () => {
    const files = ["/w/a.c", "/usr/include/stdio.h", "/w/my header.h", "/w/x$y.h", "/w/odd#1:2.h"];
    expect(parseDepFile(depTextOf(files)!, "/elsewhere")).toEqual(files);
  });
  it("refuses paths the format cannot carry", () => {
    expect(depTextOf(["/w/a\nb.h"])).toBeUndefined();
    expect(depTextOf(["/w/a\\b.h"])).toBeUndefined();
  });
});

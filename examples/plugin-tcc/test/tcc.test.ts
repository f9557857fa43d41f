// The plugin author's own test: Reprise's conformance kit against this
// plugin and Debian's tcc (`apt-get install tcc`).
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { pluginConformance } from "@reprise/core/plugin-kit";

const HEADER = "#define ANSWER 42\nint twice(int);\n";
const SOURCE = '#include <stdio.h>\n#include "answer.h"\nint main(void) { printf("%d\\n", twice(ANSWER)); return 0; }\n';

const kit = pluginConformance({
  plugin: "../index.mjs",
  baseDir: import.meta.dirname,
  compiler: "tcc",
  family: "tcc",
  notMine: ["gcc"],
  cacheable: [
    { args: ["-c", "main.c", "-o", "main.o"], files: { "main.c": SOURCE, "answer.h": HEADER }, outputs: ["main.o"] },
    { args: ["-O2", "-Wall", "-DEXTRA=1", "-I", "inc", "-c", "src/main.c"], files: { "src/main.c": SOURCE, "inc/answer.h": HEADER }, outputs: ["main.o"] },
    { args: ["-g", "-MD", "-c", "main.c", "-o", "out.o"], files: { "main.c": SOURCE, "answer.h": HEADER }, outputs: ["out.o", "out.d"] },
    { args: ["-c", "warn.c", "-o", "warn.o"], files: { "warn.c": "int f(void) { int *p = 1; return *p; }\n" }, outputs: ["warn.o"] },
  ],
  notCacheable: [
    { args: ["main.c", "-o", "main"], reason: "linking" },
    { args: ["-E", "main.c"], reason: "preprocess-only" },
    { args: ["-c", "a.c", "b.c"], reason: "multiple-sources" },
  ],
});

afterAll(() => kit.dispose());

describe("reprise-plugin-tcc passes Reprise's plugin conformance kit", () => {
  it("has tcc to test with", () => {
    expect(() => execFileSync("tcc", ["-v"]), "tcc is missing: npm run setup installs it (apt-get install tcc)").not.toThrow();
  });
  for (const check of kit.checks) it(check.name, check.run, 120_000);
});

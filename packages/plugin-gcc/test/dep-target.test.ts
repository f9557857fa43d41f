import { describe, expect, it } from "vitest";
import { clangRuleLayout, gccRuleLayout, parseFirstRule, quoteMakeTarget, rewriteDepTargets } from "../src/dep-target.js";

describe("dependency file targets", () => {
  it("quotes a -MQ target as make needs it", () => {
    expect(quoteMakeTarget("out/sp ace#$.o")).toBe("out/sp\\ ace\\#$$.o");
    expect(quoteMakeTarget("a\\ b")).toBe("a\\\\\\ b");
  });

  it("reads the first rule's words, escaped spaces and continuation lines included, and keeps -MP's phony rules", () => {
    const text = "x\\ y.o other: a.c \\\n /usr/include/stdio.h inc/h\\ 1.h\n\ninc/h\\ 1.h:\n";
    expect(parseFirstRule(text)).toEqual({ targets: ["x\\ y.o", "other"], prerequisites: ["a.c", "/usr/include/stdio.h", "inc/h\\ 1.h"], rest: "\ninc/h\\ 1.h:\n" });
    expect(parseFirstRule("no rule here")).toBeUndefined();
  });

  it("lays out gcc's rule at column 72 and clang's at 75", () => {
    const deps = ["a.c", "/usr/include/stdc-predef.h", "h.h"];
    // As GCC 12 and clang 14 wrote them for these targets (checked by hand on this machine).
    expect(gccRuleLayout([`out/${"x".repeat(60)}.o`], deps)).toBe(`out/${"x".repeat(60)}.o: a.c \\\n /usr/include/stdc-predef.h h.h\n`);
    expect(gccRuleLayout(["a.o"], deps)).toBe("a.o: a.c /usr/include/stdc-predef.h h.h\n");
    expect(clangRuleLayout(["a.o"], ["a.c", "h.h"])).toBe("a.o: a.c h.h\n");
  });

  it("refuses what it cannot lay out exactly (clang counts unescaped lengths)", () => {
    expect(clangRuleLayout(["a.o"], ["sp\\ ace.h"])).toBeUndefined();
    expect(rewriteDepTargets("a.o: a.c\n", ["b.o"], gccRuleLayout)).toBe("b.o: a.c\n");
    expect(rewriteDepTargets("garbage", ["b.o"], gccRuleLayout)).toBeUndefined();
  });
});

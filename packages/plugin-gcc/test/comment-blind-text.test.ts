import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { commentBlindText, type TextDialect } from "../src/comment-blind-text.js";

/** What the file stands for in a text digest: its blanked text, or its exact bytes when the lexer could not tell. */
function digestOf(src: string, dialect: TextDialect = "c"): string {
  const r = commentBlindText(Buffer.from(src, "latin1"), dialect);
  return r.text ? `T:${r.text.toString("latin1")}` : `B:${src}`;
}

function sameDigest(a: string, b: string, dialect: TextDialect = "c"): boolean {
  return digestOf(a, dialect) === digestOf(b, dialect);
}

/** The preprocessor's output of `src` (read from stdin), line markers and all. */
function preprocess(compiler: string, args: string[], src: Buffer): string {
  const r = spawnSync(compiler, [...args, "-E", "-"], { input: src, encoding: "latin1" });
  if (r.error) throw new Error(`${compiler} did not run: ${r.error.message}`);
  return `${r.status}\n${r.stdout}\n${r.stderr}`;
}

const C_COMPILERS: [string, string[]][] = [
  ["gcc", ["-x", "c"]],
  ["clang", ["-x", "c"]],
];
const CXX_COMPILERS: [string, string[]][] = [
  ["g++", ["-x", "c++", "-std=c++17"]],
  ["clang++", ["-x", "c++", "-std=c++17"]],
];

/** Every blanked text must preprocess exactly as the file itself (tokens, lines, columns of -E, diagnostics). */
function expectSamePreprocessing(src: string, dialect: TextDialect): void {
  const data = Buffer.from(src, "latin1");
  const blanked = commentBlindText(data, dialect).text;
  if (!blanked) return;
  for (const [compiler, args] of dialect === "c++" ? CXX_COMPILERS : C_COMPILERS) {
    expect(preprocess(compiler, args, blanked), `${compiler} on ${JSON.stringify(src)}`).toBe(preprocess(compiler, args, data));
  }
}

// Pairs that differ only inside comments or in trailing whitespace: equal digests.
const EQUAL: [string, string, TextDialect?][] = [
  ["int a; // old\n", "int a; // new text\n"],
  ["int a;\n", "int a;\n/* appended at the end */\n\n"],
  ["\xef\xbb\xbf#include <stddef.h> // one\n", "\xef\xbb\xbf#include <stddef.h> // two\n"],
  ["int a;\r\n", "int a;\r\n// appended\r\n"],
  ["int a;\n", "int a; // added at the end of the line\n"],
  ["/* one */\nint a;\n", "/* two */\nint a;\n"],
  ["/* a\n   b */\nint a;\n", "// x\n// y\nint a;\n"],
  ["int a;   \n", "int a;\n"],
  ["int a;\t \r\nint b; // c\r\n", "int a;\r\nint b; // d\r\n"],
  ["int a = 1 /* x */ + 2;\n", "int a = 1 /* y */ + 2;\n"],
  ["char c = '\"'; // a \"quote\n", "char c = '\"'; // b\n"],
  ["const char *s = \"a\\\\\"; // one\n", "const char *s = \"a\\\\\"; // two\n"],
  ["int a; /* x\n*/ int b;\n", "int a; /* yy\n*/ int b;\n"],
  ["#include <stddef.h> // why\n", "#include <stddef.h> // because\n"],
  ["#define M(x) \\\n  (x) /* note */\n", "#define M(x) \\\n  (x) /* other */\n"],
  ["int x = 1'000; // it's\n", "int x = 1'000; // its\n", "c++"],
  ["auto s = u8\"a\"; auto c = u8'b'; // x\n", "auto s = u8\"a\"; auto c = u8'b'; // y\n", "c++"],
];

// Pairs whose token streams differ (often where a naive lexer would see a comment): different digests.
const DIFFERENT: [string, string, TextDialect?][] = [
  ["const char *s = \"a // b\";\n", "const char *s = \"a // c\";\n"],
  ["const char *s = \"a /* b */ c\";\n", "const char *s = \"a /* x */ c\";\n"],
  ["const char *s = \"\\\"// x\";\n", "const char *s = \"\\\"// y\";\n"],
  ["char c = '/'; char d = '/'; int e; // x\n", "char c = '/'; char d = '*'; int e; // x\n"],
  ["const char *s = \"abc\\\n// x\";\n", "const char *s = \"abc\\\n// y\";\n"],
  ["// comment \\\nint x;\n", "// comment \\\nint y;\n"],
  ["/\\\n/ spliced opener\nint x;\n", "/\\\n/ spliced opener\nint y;\n"],
  ["int a; // x\n", "int a; // x \\\nint b;\n"],
  ["const wchar_t *s = L\"x // y\";\n", "const wchar_t *s = L\"x // z\";\n"],
  ["#if 0\ndon't /* x */\n#endif\n", "#if 0\ndon't /* y */\n#endif\n"],
  ["switch (x) { case 1: f(); /* FALLTHROUGH */ case 2: ; }\n", "switch (x) { case 1: f(); /* nothing */ case 2: ; }\n"],
  ["/* a /* b */ int x;\n", "/* a /* c */ int x;\n"],
  ["/* caf\xe9 */ int x;\n", "/* cafe */ int x;\n"],
  ["/*\t*/ int x;\n", "/* */ int x;\n"],
  ["int a; /* x\n*/ #define X 1\nint b = X;\n", "int a;\n#define X 1\nint b = X;\n"],
  ["#define X 1 /* a\n b */ 2\n", "#define X 1\n 2\n"],
  ["int a ;\n", "int a;\n"],
  ["int a;", "int a;\n"],
  ["#define X 1 \\\n", "#define X 1 \\\n\n"],
  ["int a = 1 /**/ + 2;\n", "int a = 1 + 2;\n"],
  ["int x = 1'000; // it's\n", "int x = 1'000; // its\n"],
];

// Files only their exact bytes may stand for.
const EXACT_ONLY: [string, TextDialect?][] = [
  ["#include <a//b.h>\n"],
  ["\xef\xbb\xbf#include <a//b.h>\n"],
  ["#include <a/*b*/.h>\n"],
  ["#include \"dir\\file.h\" // c\n"],
  ["#if __has_include(<x//y.h>)\n#endif\n"],
  ["#pragma GCC dependency \"a\\b\" // c\n"],
  ["const char *s = R\"d(/* x */)d\";\n", "c++"],
  ["const char *s = u8R\"(// x)\";\n", "c++"],
  ["int a; ??/\nint b;\n"],
  ["#define X 1 \\ \nint y;\n"],
  ["int a; /* unterminated\n"],
  ["int a;\rint b; // c\n"],
  ["int a;\0 // c\n"],
  ["int x = 1'000;\n", "c"],
  ["#embed \"data.bin\"\n"],
  // Names the lexer must still read when a line splice cuts them, or in their other spellings.
  ["#if __has_\\\ninclude(<x//y.h>)\n#endif\n"],
  ["#if __has_include_next__(<x//y.h>)\n#endif\n"],
  ["#inc\\\nlude <a//b.h>\n"],
  ["const char *s = u8\\\nR\"(// x)\";\n", "c++"],
];

describe("comment-blind text of C-family files", () => {
  it.each(EQUAL)("equal digests: %j ~ %j", (a, b, dialect) => {
    expect(sameDigest(a, b, dialect)).toBe(true);
    expectSamePreprocessing(a, dialect ?? "c");
    expectSamePreprocessing(b, dialect ?? "c");
  });

  it.each(DIFFERENT)("different digests: %j vs %j", (a, b, dialect) => {
    expect(sameDigest(a, b, dialect)).toBe(false);
    expectSamePreprocessing(a, dialect ?? "c");
    expectSamePreprocessing(b, dialect ?? "c");
  });

  it.each(EXACT_ONLY)("exact bytes only: %j", (src, dialect) => {
    expect(commentBlindText(Buffer.from(src, "latin1"), dialect ?? "c").text).toBeNull();
  });

  it("says when a file brings another file's bytes (#embed, __has_embed)", () => {
    expect(commentBlindText(Buffer.from("#embed <a.bin>\n"), "c").embeds).toBe(true);
    expect(commentBlindText(Buffer.from("#if __has_embed(<a.bin>)\n#endif\n"), "c").embeds).toBe(true);
    expect(commentBlindText(Buffer.from("int embed; // embed\n"), "c").embeds).toBe(false);
    expect(commentBlindText(Buffer.from("#if __has_\\\nembed(<a.bin>)\n#endif\n"), "c").embeds).toBe(true);
    expect(commentBlindText(Buffer.from("# \\\nembed <a.bin>\n"), "c").embeds).toBe(true);
  });

  it("turns text off for the whole compile where a pragma turns on a warning that reads comments", () => {
    for (const text of ['#pragma clang diagnostic warning "-Wdocumentation"\n', '_Pragma("clang diagnostic error \\"-Weverything\\"")\n']) {
      const r = commentBlindText(Buffer.from(text), "c");
      expect(r, text).toEqual({ text: null, embeds: true });
    }
  });

  it("keeps every token's line and column", () => {
    const src = "int a; /* x */ int b; // y\n  /* multi\n line */ int c;\n";
    const text = commentBlindText(Buffer.from(src), "c").text!.toString();
    expect(text).toBe(`int a;${" ".repeat(9)}int b;\n\n${" ".repeat(9)}int c;\n`);
    expectSamePreprocessing(src, "c");
  });

  it("keeps the exact bytes where a blanked comment would leave a backslash ending its line (a new line splice)", () => {
    expect(commentBlindText(Buffer.from("#define X 1 \\ // z\nint y;\n"), "c").text).toBeNull();
    expect(commentBlindText(Buffer.from("#define X 1 \\ /* z */\nint y;\n"), "c").text).toBeNull();
  });

  it("preprocesses a real header's blanked text exactly as the header", () => {
    const header = [
      "/* Copyright line */",
      "#ifndef H",
      "#define H 1 /* guard */",
      "#include <stddef.h> // size_t",
      "#define STR(x) #x /* stringize */",
      "static const char *k = STR(a /* inner */ b); // \"not a string\"",
      "static const char *q = \"/* not a comment */ // nor this\";",
      "static const char c = '\\''; /* escaped */",
      "#if 0",
      "it's skipped /* here */",
      "#endif",
      "int f(int x) {",
      "  switch (x) { case 1: x++; /* FALLTHROUGH */ case 2: return x; }",
      "  return 0; /* multi",
      "   line */ }",
      "#endif",
      "",
    ].join("\n");
    expectSamePreprocessing(header, "c");
    expect(commentBlindText(Buffer.from(header), "c").text).not.toBeNull();
  });
});

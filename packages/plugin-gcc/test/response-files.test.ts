import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expandResponseFiles, splitResponseFile } from "../src/response-files.js";
import { removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

describe("splitResponseFile (GCC/libiberty quoting)", () => {
  it("splits on any whitespace, newlines included", () => {
    expect(splitResponseFile("-c  a.c\n-o\ta.o\r\n  -O2 \n")).toEqual(["-c", "a.c", "-o", "a.o", "-O2"]);
  });
  it("groups quoted text and joins it to adjacent characters", () => {
    expect(splitResponseFile(`-DA='x y' "-DB=1 2" -DC="q"r`)).toEqual(["-DA=x y", "-DB=1 2", "-DC=qr"]);
  });
  it("keeps the other quote character inside quotes", () => {
    expect(splitResponseFile(`-DE="lit 'in' dq" '-DF="s"'`)).toEqual(["-DE=lit 'in' dq", '-DF="s"']);
  });
  it("takes a backslash as escaping the next character, inside quotes too", () => {
    // Same line that gcc 12 and clang 14 expand to: x y|"q"|a b|'s'
    expect(splitResponseFile(String.raw`-DA='x y' "-DB=\"q\"" -DC=a\ b '-DD=\'s\''`)).toEqual(["-DA=x y", '-DB="q"', "-DC=a b", "-DD='s'"]);
  });
  it("keeps an empty quoted argument", () => {
    expect(splitResponseFile(`-a '' -b`)).toEqual(["-a", "", "-b"]);
  });
  it("returns nothing for blank text", () => {
    expect(splitResponseFile(" \n\t ")).toEqual([]);
  });
});

describe("expandResponseFiles", () => {
  it("expands nested files, names relative to the cwd rather than to the including file", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "rsp/inner"), { recursive: true });
    writeFileSync(join(dir, "rsp/a.rsp"), "-c\n@rsp/inner/b.rsp -O2\n");
    writeFileSync(join(dir, "rsp/inner/b.rsp"), "'-DX=a b' x.c");
    const r = expandResponseFiles(["-g", "@rsp/a.rsp", "-o", "x.o"], dir);
    expect(r).toEqual({ ok: true, args: ["-g", "-c", "-DX=a b", "x.c", "-O2", "-o", "x.o"], usedResponseFiles: true });
  });
  it("fails on an unreadable file, naming it", () => {
    const dir = tempDir();
    const r = expandResponseFiles(["@missing.rsp"], dir);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.file).toBe("missing.rsp");
      expect(r.detail).toContain("ENOENT");
    }
  });
  it("fails on a file that includes itself instead of looping", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "self.rsp"), "-c @self.rsp");
    expect(expandResponseFiles(["@self.rsp"], dir).ok).toBe(false);
  });
  it("leaves arguments without @ and a lone @ alone", () => {
    expect(expandResponseFiles(["-c", "a.c", "@"], "/")).toEqual({ ok: true, args: ["-c", "a.c", "@"], usedResponseFiles: false });
  });
});

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readNoFollow } from "../../src/util/read-no-follow.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reprise-read-no-follow-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const anyFile = () => true;

describe("readNoFollow", () => {
  it("reads a regular file whole, empty ones included", () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    writeFileSync(join(dir, "f"), bytes);
    writeFileSync(join(dir, "empty"), "");
    const found = readNoFollow(join(dir, "f"), anyFile);
    expect(found.kind).toBe("read");
    expect(found.kind === "read" && found.data.equals(bytes)).toBe(true);
    expect(readNoFollow(join(dir, "empty"), anyFile)).toEqual({ kind: "read", data: Buffer.alloc(0) });
  });

  it("never follows a symlink, even to a file it would accept", () => {
    writeFileSync(join(dir, "target"), "secret");
    symlinkSync(join(dir, "target"), join(dir, "link"));
    expect(readNoFollow(join(dir, "link"), anyFile)).toEqual({ kind: "unopened" });
  });

  it("says unopened for a missing path", () => {
    expect(readNoFollow(join(dir, "missing"), anyFile)).toEqual({ kind: "unopened" });
  });

  it("hands the opened file's stat to accept and reads nothing it refuses", () => {
    writeFileSync(join(dir, "big"), Buffer.alloc(100));
    const seen: number[] = [];
    const found = readNoFollow(join(dir, "big"), (st) => {
      seen.push(st.size);
      return st.size <= 99;
    });
    expect(seen).toEqual([100]);
    expect(found.kind).toBe("refused");
    expect(found.kind === "refused" && found.stat.size).toBe(100);
  });

  it("does not hang on a FIFO in a file's place (O_NONBLOCK), and a regular-file check refuses it", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const found = readNoFollow(fifo, (st) => st.isFile());
    expect(found.kind).toBe("refused");
  });
});

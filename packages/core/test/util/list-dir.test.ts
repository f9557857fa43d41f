import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listDir } from "../../src/util/list-dir.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reprise-list-dir-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("listDir", () => {
  it("lists the names in a directory, files and folders", () => {
    writeFileSync(join(dir, "a"), "");
    mkdirSync(join(dir, "b"));
    expect(listDir(dir).sort()).toEqual(["a", "b"]);
  });

  it("is empty for what cannot be listed: a missing path, a file", () => {
    writeFileSync(join(dir, "file"), "");
    expect(listDir(join(dir, "missing"))).toEqual([]);
    expect(listDir(join(dir, "file"))).toEqual([]);
  });
});

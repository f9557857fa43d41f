import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { compact, MAX_RECORDS_PER_SOURCE, readDescriptions, recordDescription, recordsDir } from "../../src/explain/description-records.js";
import type { KeyDescription } from "../../src/explain/key-description.js";

const dirs: string[] = [];
function cacheDir(): string {
  const d = mkdtempSync(join(tmpdir(), "reprise-records-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function record(source: string, n: number, compilerPath = "/usr/bin/gcc"): KeyDescription {
  return {
    source,
    sourceHash: `s${n}`,
    compilerPath,
    compilerIdentity: "id",
    family: "gcc",
    language: "c",
    mode: "direct",
    args: ["-c", `-DN=${n}`],
    env: {},
    cwd: "/p",
    colorDiagnostics: false,
    extraInputs: [],
    manifestKey: `m${n}`,
    resultKey: `r${n}`,
    recordedAt: n,
  };
}

describe("description records", () => {
  it("gives the newest records of one source and compiler, one per entry, in a private log", () => {
    const dir = cacheDir();
    recordDescription(dir, record("/p/a.c", 1));
    recordDescription(dir, record("/p/b.c", 2));
    recordDescription(dir, record("/p/a.c", 3, "/usr/bin/clang"));
    recordDescription(dir, record("/p/a.c", 4));
    recordDescription(dir, record("/p/a.c", 4)); // the same entry stored again
    expect(readDescriptions(dir, "/p/a.c", "/usr/bin/gcc").map((r) => r.recordedAt)).toEqual([4, 1]);
    expect(readDescriptions(dir, "/p/a.c", "/usr/bin/clang").map((r) => r.recordedAt)).toEqual([3]);
    expect(readDescriptions(dir, "/p/c.c", "/usr/bin/gcc")).toEqual([]);
    expect(statSync(recordsDir(dir)).mode & 0o777).toBe(0o700);
    expect(statSync(join(recordsDir(dir), "records.jsonl")).mode & 0o777).toBe(0o600);
  });

  it("compaction keeps the newest records of each source and drops the rest", async () => {
    const dir = cacheDir();
    for (let n = 0; n < 20; n++) recordDescription(dir, record("/p/a.c", n));
    recordDescription(dir, record("/p/b.c", 100));
    await compact(dir);
    const lines = readFileSync(join(recordsDir(dir), "records.jsonl"), "utf8").trim().split("\n");
    expect(lines).toHaveLength(MAX_RECORDS_PER_SOURCE + 1);
    expect(readDescriptions(dir, "/p/a.c", "/usr/bin/gcc").map((r) => r.recordedAt)).toEqual([19, 18, 17, 16, 15, 14, 13, 12]);
    expect(readDescriptions(dir, "/p/b.c", "/usr/bin/gcc").map((r) => r.recordedAt)).toEqual([100]);
  });

  it("records nothing in a cache directory that does not exist", () => {
    const dir = join(cacheDir(), "absent");
    recordDescription(dir, record("/p/a.c", 1));
    expect(readDescriptions(dir, "/p/a.c", "/usr/bin/gcc")).toEqual([]);
  });
});

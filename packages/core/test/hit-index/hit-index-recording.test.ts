// The index is written after the answer, perhaps seconds later on a loaded
// machine: the delay must not let a header whose content was only known
// while its timestamp was racy be vouched for by its stat.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { indexName } from "../../src/hit-index/entry-format.js";
import { HitIndex, type DaemonHit } from "../../src/hit-index/hit-index.js";
import { Stats } from "../../src/stats/stats.js";
import { silentLogger } from "../../src/util/logger.js";

const root = mkdtempSync(join(tmpdir(), "reprise-hit-recording-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than the racy window (RACY_WINDOW_MS): a recording this late sees every file of the call as old. */
const LATE_MS = 2300;
/**
 * How far ahead of the wall clock the hash cache's clock runs while skewed: files read then count as long settled,
 * however long a loaded machine takes between writing and reading them (3 s once left less than the 2 s window).
 */
const SKEW_MS = 10 * 60_000;

function setup(name: string) {
  const dir = join(root, name);
  const cwd = join(dir, "proj");
  mkdirSync(cwd, { recursive: true });
  const source = join(cwd, "r.c");
  const header = join(cwd, "gen.h");
  const resultFile = join(dir, "result");
  writeFileSync(source, '#include "gen.h"\n');
  writeFileSync(resultFile, "stored result");
  // Ahead of the wall clock while `skew` is set: the files read then count as long settled.
  let skew = 0;
  const hashes = new FileHashCache(1000, () => Date.now() + skew);
  const index = new HitIndex(join(dir, "runtime"), hashes, new Stats(), silentLogger);
  mkdirSync(join(dir, "runtime"));
  mkdirSync(join(dir, "cache"));
  index.start();
  const hit = (sourceHash: string, headerHash: string, startedAt: number): DaemonHit => ({
    request: Buffer.from(`compile ${name}`),
    startedAt,
    cwd,
    env: { HOME: dir },
    compilerName: "/usr/bin/gcc",
    compilerPath: "/usr/bin/gcc",
    configFile: undefined,
    cacheDir: join(dir, "cache"),
    cacheSizeBytes: 1 << 30,
    resultFile,
    source: { path: source, hash: sourceHash, tokens: [] },
    headers: [{ path: header, hash: headerHash }],
    absent: [],
    headerTokens: [],
    written: [{ path: join(cwd, "r.o"), data: Buffer.from("object"), executable: false }],
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    exitCode: 0,
    language: "c",
    plugin: "gcc",
    compileMs: 5,
  });
  const entryFile = () => join(dir, "runtime", "hit-index", indexName(Buffer.from(`compile ${name}`)));
  return { hashes, index, hit, source, header, entryFile, setSkew: (ms: number) => (skew = ms) };
}

describe("hit index recording", () => {
  it("does not vouch for a header known only while racy, however late the entry is recorded", async () => {
    const t = setup("late");
    t.setSkew(SKEW_MS);
    const sourceHash = (await t.hashes.digest(t.source))!.hash;
    t.setSkew(0);
    // A header Reprise itself wrote (a restored output) just now: its digest is known, but a same-tick rewrite would not show.
    const data = Buffer.from("#define G 1\n");
    writeFileSync(t.header, data);
    t.hashes.rememberWritten(t.header, data);
    const decidedAt = Date.now();
    const headerHash = (await t.hashes.digest(t.header))!.hash;
    // The recording is delayed past the racy window (a loaded daemon), as a late setImmediate would be.
    await sleep(LATE_MS);
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("header-not-settled");
    expect(existsSync(t.entryFile()), "an entry vouched for a header whose content was known only while racy").toBe(false);
  });

  it("records the same hit when every file was read well after it last changed", async () => {
    const t = setup("settled");
    writeFileSync(t.header, "#define G 1\n");
    t.setSkew(SKEW_MS);
    const sourceHash = (await t.hashes.digest(t.source))!.hash;
    const headerHash = (await t.hashes.digest(t.header))!.hash;
    const decidedAt = Date.now();
    await sleep(LATE_MS);
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("recorded");
    expect(existsSync(t.entryFile())).toBe(true);
  });

  it("records a hit whose header was read while racy once it is read again after it settled (the retry)", async () => {
    const t = setup("resettled");
    t.setSkew(SKEW_MS);
    const sourceHash = (await t.hashes.digest(t.source))!.hash;
    t.setSkew(0);
    // Generated just before the build: read while its timestamp could still hide a same-tick rewrite.
    writeFileSync(t.header, "#define G 1\n");
    const decidedAt = Date.now();
    const headerHash = (await t.hashes.digest(t.header))!.hash;
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("header-not-settled");
    // Read again while still racy: still not vouched for.
    await t.hashes.settle(t.header);
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("header-not-settled");
    // Once the racy window has passed (the clock injected): the same content, read again, is vouched for.
    t.setSkew(SKEW_MS);
    await t.hashes.settle(t.header);
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("recorded");
    expect(existsSync(t.entryFile())).toBe(true);
  });

  it("does not record a retried hit whose header changed before it was read again", async () => {
    const t = setup("changed-before-retry");
    t.setSkew(SKEW_MS);
    const sourceHash = (await t.hashes.digest(t.source))!.hash;
    t.setSkew(0);
    writeFileSync(t.header, "#define G 1\n");
    const decidedAt = Date.now();
    const headerHash = (await t.hashes.digest(t.header))!.hash;
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("header-not-settled");
    writeFileSync(t.header, "#define G 2\n");
    t.setSkew(SKEW_MS);
    await t.hashes.settle(t.header);
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt)), "the hit was decided on content the header no longer has").toBe("header-not-settled");
    expect(existsSync(t.entryFile())).toBe(false);
  });

  it("reads again a header Reprise wrote itself (known from its write) once it settled", async () => {
    const t = setup("written-resettled");
    t.setSkew(SKEW_MS);
    const sourceHash = (await t.hashes.digest(t.source))!.hash;
    t.setSkew(0);
    const data = Buffer.from("#define G 3\n");
    writeFileSync(t.header, data);
    t.hashes.rememberWritten(t.header, data);
    const decidedAt = Date.now();
    const headerHash = (await t.hashes.digest(t.header))!.hash;
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("header-not-settled");
    t.setSkew(SKEW_MS);
    await t.hashes.settle(t.header);
    expect(t.index.record(t.hit(sourceHash, headerHash, decidedAt))).toBe("recorded");
  });
});

import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeIndexEntry, fnv1a64, indexName } from "../../src/hit-index/entry-format.js";
import { parseHitLine } from "../../src/hit-index/hit-log.js";
import { RACY_WINDOW_NS, SharedWatches, watchCompilerLookup, watchConfigSearch, watchHashedFile, watchPath } from "../../src/hit-index/watch-list.js";
import { fnv1a64Hex } from "../../src/util/fnv1a.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";

const root = mkdtempSync(join(tmpdir(), "reprise-hit-index-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

describe("entry format", () => {
  it("names an entry by the same FNV-1a 64 as the native client computes", () => {
    for (const t of ["", "a", "hello world", "x".repeat(1000), "\u00e9\u4e2d\0\xff"]) {
      expect(indexName(Buffer.from(t, "utf8"))).toBe(fnv1a64Hex(t));
    }
    // Enough inputs that both halves of the result take values at and above 2^31, many times over (and in optimized code).
    const highBits = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const t = `request ${i} ${"y".repeat(i % 97)}`;
      const name = indexName(Buffer.from(t, "utf8"));
      expect(name).toBe(fnv1a64Hex(t));
      highBits.add(`${Number.parseInt(name[0]!, 16) >= 8}:${Number.parseInt(name[8]!, 16) >= 8}`);
    }
    expect(highBits.size).toBe(4);
  });

  it("checksums everything after the header", () => {
    const entry = encodeIndexEntry({
      version: "0.1.0",
      request: Buffer.from("req"),
      resultFile: "/c/results/ab",
      statsLine: "c gcc 12",
      watched: [{ kind: "absent", path: "/nope" }, { kind: "executable", path: "/usr/bin/cc", dev: 1n, ino: 2n, size: 3n, mtimeNs: 4n }],
      outputs: [{ path: "/o/a.o", blob: "/c/hit-index/x", size: 3, executable: false }],
      stdout: Buffer.alloc(0),
      stderr: Buffer.from("warn"),
      exitCode: 0,
    });
    expect(entry.subarray(0, 4).toString()).toBe("RPXI");
    expect(entry.readBigUInt64BE(8)).toBe(fnv1a64(entry.subarray(16)));
  });
});

describe("entry format, large", () => {
  it("hashes long requests as the reference FNV-1a does", () => {
    const text = Array.from({ length: 50_000 }, (_, i) => String.fromCharCode(32 + ((i * 7919) % 95))).join("");
    expect(indexName(Buffer.from(text, "utf8"))).toBe(fnv1a64Hex(text));
  });

  it("lays out an entry watching thousands of files field after field, past any initial buffer size", () => {
    const watched = Array.from({ length: 2000 }, (_, i) => ({ kind: "file" as const, path: `/usr/include/h${i}.h`, dev: 1n, ino: BigInt(i), size: 10n, mtimeNs: 5n, ctimeNs: 6n }));
    const stdout = Buffer.alloc(70_000, 0x61);
    const entry = encodeIndexEntry({ version: "v", request: Buffer.from("r"), resultFile: "/f", statsLine: "s", watched, outputs: [], stdout, stderr: Buffer.from("e"), exitCode: -3 });
    const paths = watched.reduce((n, w) => n + w.path.length + 1, 0);
    expect(entry.length).toBe(16 + 2 + 4 + 1 + 3 + 2 + 4 + watched.length * (1 + 5 * 8) + paths + 4 + 4 + stdout.length + 4 + 1 + 4);
    expect(entry.readInt32BE(entry.length - 4)).toBe(-3);
    expect(entry.subarray(entry.length - 9 - stdout.length, entry.length - 9).equals(stdout)).toBe(true);
    expect(entry.readBigUInt64BE(8)).toBe(fnv1a64(entry.subarray(16)));
  });
});

describe("watch list", () => {
  it("never vouches for a file changed within the racy window", () => {
    const f = join(root, "fresh.h");
    writeFileSync(f, "#define A 1\n");
    expect(watchPath(f, nowNs())).toBeUndefined();
    // The same file judged from a moment RACY_WINDOW later is old enough.
    expect(watchPath(f, nowNs() + RACY_WINDOW_NS + 1_000_000n)?.kind).toBe("file");
  });

  it("records absence and directories with owner and mode", () => {
    expect(watchPath(join(root, "missing"), nowNs())).toEqual({ kind: "absent", path: join(root, "missing") });
    expect(watchPath(join(root, "missing", "deeper"), nowNs())?.kind).toBe("absent");
    const d = watchPath(root, nowNs());
    expect(d?.kind).toBe("dir");
    if (d?.kind === "dir") expect(d.mode).toBe(statSync(root).mode);
  });

  it("vouches for a source only with the hash the hash cache holds for its current stat", async () => {
    const f = join(root, "old.h");
    writeFileSync(f, "#define B 2\n");
    const old = new Date(Date.now() - 10_000);
    utimesSync(f, old, old);
    // ctime is now: a clock ahead of it reads the file as if it had aged.
    const hashes = new FileHashCache(1000, () => Date.now() + 3000);
    const digest = await hashes.digest(f);
    const st = statSync(f, { bigint: true });
    expect(watchHashedFile(f, digest!.hash, [], hashes)).toEqual({ kind: "file", path: f, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    expect(watchHashedFile(f, "0".repeat(64), [], hashes)).toBeUndefined();
    expect(watchHashedFile(f, digest!.hash, [], new FileHashCache())).toBeUndefined();
  });

  it("records a hashed file by the identity its digest was read under, not by a later stat", async () => {
    const f = join(root, "moved-on.h");
    writeFileSync(f, "#define C 3\n");
    const hashes = new FileHashCache(1000, () => Date.now() + 3000);
    const digest = await hashes.digest(f);
    const read = statSync(f, { bigint: true });
    // Changed after the read (the cache has not looked again): the entry must name the old identity, which the client will find gone.
    writeFileSync(f, "#define C 4\n");
    utimesSync(f, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const item = watchHashedFile(f, digest!.hash, [], hashes);
    expect(item).toMatchObject({ kind: "file", mtimeNs: read.mtimeNs, ctimeNs: read.ctimeNs });
    expect(statSync(f, { bigint: true }).mtimeNs).not.toBe(read.mtimeNs);
  });

  it("lists every PATH candidate up to the compiler found", () => {
    const a = join(root, "bin-a");
    const b = join(root, "bin-b");
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(b, "cc9"), "#!/bin/sh\n", { mode: 0o755 });
    const items = watchCompilerLookup("cc9", join(b, "cc9"), root, `${a}::${b}`, nowNs() + RACY_WINDOW_NS + 1_000_000n);
    expect(items?.map((i) => [i.kind, i.path])).toEqual([
      ["absent", join(a, "cc9")],
      ["executable", join(b, "cc9")],
    ]);
  });

  it("watches the compiler found without its ctime: a hard link just made leaves it vouched for, a write just made does not", () => {
    const dir = join(root, "bin-c");
    mkdirSync(dir);
    const cc = join(dir, "cc8");
    writeFileSync(cc, "#!/bin/sh\n", { mode: 0o755 });
    const old = new Date(Date.now() - 60_000);
    // utimes moves the ctime to now, as a link made to the file does; the mtime is a minute old.
    utimesSync(cc, old, old);
    const st = statSync(cc, { bigint: true });
    expect(watchCompilerLookup("cc8", cc, root, dir, nowNs())).toEqual([{ kind: "executable", path: cc, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs }]);
    expect(watchCompilerLookup(cc, cc, root, "", nowNs())?.[0]?.kind).toBe("executable");
    writeFileSync(cc, "#!/bin/sh\n");
    expect(watchCompilerLookup("cc8", cc, root, dir, nowNs())).toBeUndefined();
  });

  it("lists every config place from the cwd up, stopping at the config in use", () => {
    const project = join(root, "proj");
    mkdirSync(join(project, "sub"), { recursive: true });
    writeFileSync(join(project, ".repriserc.json"), "{}\n");
    const items = watchConfigSearch(join(project, "sub"), join(project, ".repriserc.json"), {}, nowNs() + RACY_WINDOW_NS + 1_000_000n);
    expect(items?.some((i) => i.path === join(project, "sub", ".repriserc.json") && i.kind === "absent")).toBe(true);
    expect(items?.some((i) => i.path === join(project, ".repriserc.json") && i.kind === "file")).toBe(true);
    expect(items?.some((i) => i.path === join(root, ".repriserc.json"))).toBe(false);
  });
});

describe("shared watches", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const project = join(root, "shared");
  const search = (since: bigint) => watchConfigSearch(project, undefined, { HOME: root }, since);
  const config = join(project, ".repriserc.json");

  it("serves a later entry the items taken after its call arrived, and takes them again for a call that arrived after them", async () => {
    mkdirSync(project, { recursive: true });
    const shared = new SharedWatches();
    const early = Date.now() - 10_000;
    await sleep(5);
    const first = shared.items("k", early, search);
    expect(first?.find((i) => i.path === config)?.kind).toBe("absent");
    // Another call that arrived before those stats: the same items (nothing was stat'ed again).
    expect(shared.items("k", early + 1, search)).toBe(first);
    await sleep(5);
    writeFileSync(config, "{}\n");
    // A call that arrived after the config appeared (past its racy window) is never served what was there before it.
    const later = shared.items("k", Date.now() + Number(RACY_WINDOW_NS / 1_000_000n) + 1000, search);
    expect(later).not.toBe(first);
    expect(later?.find((i) => i.path === config)?.kind).toBe("file");
  });

  it("takes items again when a file they vouch for changed within the racy window before the call", async () => {
    const shared = new SharedWatches();
    writeFileSync(config, "{ }\n");
    const arrived = Date.now();
    await sleep(5);
    // Changed just now: the config search vouches for nothing (taken again, and again undefined).
    expect(shared.items("r", arrived, search)).toBeUndefined();
    expect(shared.items("r", arrived, search)).toBeUndefined();
    // Kept for a call arriving well after the change, they do not serve one that arrived just after it.
    expect(shared.items("r", Date.now() + Number(RACY_WINDOW_NS / 1_000_000n) + 1000, search)?.find((i) => i.path === config)?.kind).toBe("file");
    expect(shared.items("r", arrived, search)).toBeUndefined();
  });
});

describe("hit log", () => {
  it("takes well-formed lines and refuses anything else", () => {
    expect(parseHitLine("0123456789abcdef 250 c++ @reprise/plugin-gcc 120")).toEqual({ name: "0123456789abcdef", serviceMs: 0.25, language: "c++", plugin: "@reprise/plugin-gcc", compileMs: 120 });
    expect(parseHitLine("0123456789abcdef 250 c gcc")).toBeUndefined();
    expect(parseHitLine("xyz 250 c gcc 1")).toBeUndefined();
    expect(parseHitLine("0123456789abcdef 250 c g cc 1")).toBeUndefined();
  });
});

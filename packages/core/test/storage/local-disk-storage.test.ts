import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CacheStorage } from "../../src/storage/cache-storage.js";
import { decodeEntry, encodeEntry } from "../../src/storage/codec.js";
import { createLocalDiskStorage, LocalDiskStorage } from "../../src/storage/local-disk-storage.js";
import { RepriseError } from "../../src/util/errors.js";

const key = (c: string) => c.repeat(64);
const A = key("a");
const B = key("b");
const C = key("c");
const D = key("d");
const E = key("e");

let dir: string;
const opened: CacheStorage[] = [];

function open(maxSizeBytes = 1 << 30): LocalDiskStorage {
  const s = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes });
  opened.push(s);
  return s;
}

const blobPath = (kind: "result" | "manifest", k: string) => join(dir, `${kind}s`, k.slice(0, 2), k);

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "reprise-storage-")), "cache");
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await rm(resolve(dir, ".."), { recursive: true, force: true });
});

describe("LocalDiskStorage", () => {
  it("stores encoded entries under <kind>s/<key[0..2]>/<key> and reads them back", async () => {
    const s = createLocalDiskStorage({ kind: "local", dir, maxSizeBytes: 1 << 20 });
    opened.push(s);
    expect(s.kind).toBe("local");
    expect(s.location).toBe(resolve(dir));
    const data = randomBytes(1000);
    const blob = await encodeEntry({ outputs: [{ role: "object", data }, { role: "empty", data: Buffer.alloc(0) }], stdout: Buffer.alloc(0), stderr: Buffer.from("w"), exitCode: 0, compileMs: 3, createdAt: 1 }, A);
    await s.write("result", A, blob);
    await s.write("manifest", A, Buffer.from("manifest bytes"));

    expect((await readFile(blobPath("result", A))).equals(blob)).toBe(true);
    const back = await decodeEntry((await s.read("result", A))!, A);
    expect(back.outputs[0]!.data.equals(data)).toBe(true);
    expect(back.outputs[1]!.data.length).toBe(0);
    expect((await s.read("manifest", A))!.toString()).toBe("manifest bytes");
    expect(await s.read("result", B)).toBeUndefined();
    expect(await s.usage()).toEqual({ sizeBytes: blob.length + 14, entries: 2, maxSizeBytes: 1 << 20 });
    if (process.platform !== "win32") {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, "results", "aa"))).mode & 0o777).toBe(0o700);
    }
  });

  it("writes small blobs (in this thread) and large ones (through the thread pool) alike: private, whole, no temp file left", async () => {
    const s = open();
    const small = randomBytes(10_000);
    const large = randomBytes(3 * 1024 * 1024);
    await s.write("result", A, small);
    await s.write("result", B, large);
    expect((await readFile(blobPath("result", A))).equals(small)).toBe(true);
    expect((await readFile(blobPath("result", B))).equals(large)).toBe(true);
    if (process.platform !== "win32") {
      expect((await stat(blobPath("result", A))).mode & 0o777).toBe(0o600);
      expect((await stat(blobPath("result", B))).mode & 0o777).toBe(0o600);
    }
    expect((await listFiles(dir)).map((f) => basename(f)).sort()).toEqual([A, B].sort());
  });

  it("overwrites a key atomically and accounts for the new size only", async () => {
    const s = open();
    await s.write("result", A, Buffer.alloc(100, 1));
    await s.write("result", A, Buffer.alloc(40, 2));
    expect(await s.read("result", A)).toEqual(Buffer.alloc(40, 2));
    expect(await s.usage()).toMatchObject({ sizeBytes: 40, entries: 1 });
    expect((await readdir(join(dir, "results", "aa"))).length).toBe(1);
  });

  it("rejects keys and kinds that are not what it stores, before touching the disk", async () => {
    const s = open();
    const bad = ["", "A".repeat(64), "a".repeat(63), "a".repeat(65), `../../${"a".repeat(58)}`, `aa/${"a".repeat(61)}`, `${"a".repeat(63)}\n`, "g".repeat(64)];
    for (const k of bad) {
      await expect(s.write("result", k, Buffer.from("x"))).rejects.toBeInstanceOf(RepriseError);
      await expect(s.read("result", k)).rejects.toBeInstanceOf(RepriseError);
      await expect(s.remove("result", k)).rejects.toBeInstanceOf(RepriseError);
    }
    await expect(s.write("../x" as "result", A, Buffer.from("x"))).rejects.toThrow(/invalid blob kind/);
    expect(existsSync(dir)).toBe(false);
  });

  it("returns undefined when a blob is deleted behind its back, and forgets it", async () => {
    const s = open();
    await s.write("result", A, Buffer.alloc(10));
    await s.write("result", B, Buffer.alloc(20));
    expect(await s.usage()).toMatchObject({ sizeBytes: 30, entries: 2 });
    await unlink(blobPath("result", A));
    expect(await s.read("result", A)).toBeUndefined();
    expect(await s.usage()).toMatchObject({ sizeBytes: 20, entries: 1 });
    // The whole directory going away (another process clearing) is the same.
    await rm(dir, { recursive: true });
    expect(await s.read("result", B)).toBeUndefined();
    await s.remove("result", B);
    await s.write("result", C, Buffer.alloc(5));
    expect(await s.read("result", C)).toEqual(Buffer.alloc(5));
    expect(await s.usage()).toMatchObject({ sizeBytes: 5, entries: 1 });
  });

  it("remove() deletes a blob and tolerates an absent one", async () => {
    const s = open();
    await s.write("manifest", A, Buffer.alloc(10));
    await s.remove("manifest", A);
    await s.remove("manifest", A);
    await s.remove("result", B);
    expect(existsSync(blobPath("manifest", A))).toBe(false);
    expect(await s.read("manifest", A)).toBeUndefined();
    expect(await s.usage()).toMatchObject({ sizeBytes: 0, entries: 0 });
  });

  it("clear() removes every blob and nothing else", async () => {
    const s = open();
    await s.write("result", A, Buffer.alloc(10));
    await s.write("manifest", B, Buffer.alloc(10));
    await writeFile(join(dir, "stats.json"), "{}");
    await s.clear();
    expect(await s.read("result", A)).toBeUndefined();
    expect(await s.read("manifest", B)).toBeUndefined();
    expect(await s.usage()).toMatchObject({ sizeBytes: 0, entries: 0 });
    expect(await readFile(join(dir, "stats.json"), "utf8")).toBe("{}");
    await s.write("result", C, Buffer.alloc(3));
    expect(await s.usage()).toMatchObject({ sizeBytes: 3, entries: 1 });
  });

  it("clear() keeps the kind and shard folders, emptied, and removes anything else in a kind's folder", async () => {
    const s = open();
    await s.write("result", A, Buffer.alloc(10));
    await s.write("manifest", B, Buffer.alloc(10));
    await mkdir(join(dir, "results", A.slice(0, 2), "odd"), { recursive: true });
    await mkdir(join(dir, "results", ".staging"), { recursive: true });
    await writeFile(join(dir, "results", "stray"), "x");
    await s.clear();
    expect(await readdir(join(dir, "results"))).toEqual([A.slice(0, 2)]);
    expect(await readdir(join(dir, "results", A.slice(0, 2)))).toEqual([]);
    expect(await readdir(join(dir, "manifests", B.slice(0, 2)))).toEqual([]);
    await s.write("result", A, Buffer.alloc(4));
    expect(await s.read("result", A)).toEqual(Buffer.alloc(4));
  });

  it("indexes an existing directory on first use, ignoring foreign files and removing stale temp files", async () => {
    await mkdir(join(dir, "results", "aa"), { recursive: true });
    await mkdir(join(dir, "manifests", "bb"), { recursive: true });
    await writeFile(blobPath("result", A), Buffer.alloc(100));
    await writeFile(blobPath("manifest", B), Buffer.alloc(50));
    await writeFile(join(dir, "results", "aa", "README"), "not a blob");
    await writeFile(join(dir, "results", "aa", C), "a blob in the wrong shard");
    const stale = join(dir, "results", "aa", `.tmp-${A}.1.abc`);
    const fresh = join(dir, "results", "aa", `.tmp-${A}.2.def`);
    await writeFile(stale, "crashed writer");
    await writeFile(fresh, "writer still running");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);

    const s = open();
    expect(await s.usage()).toMatchObject({ sizeBytes: 150, entries: 2 });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(join(dir, "results", "aa", "README"))).toBe(true);
  });

  it("indexes no link: neither a linked shard folder nor a linked blob counts", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "reprise-elsewhere-"));
    try {
      await writeFile(join(elsewhere, D), Buffer.alloc(70));
      await mkdir(join(elsewhere, "inner"));
      await mkdir(join(dir, "results", "aa"), { recursive: true });
      await writeFile(blobPath("result", A), Buffer.alloc(100));
      await symlink(join(elsewhere, D), join(dir, "results", "aa", `aa${"f".repeat(62)}`));
      await symlink(elsewhere, join(dir, "results", "dd"));
      const s = open();
      expect(await s.usage()).toMatchObject({ sizeBytes: 100, entries: 1 });
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("evicts the least recently read or written blobs down to 90% of the limit", async () => {
    const s = open(1000);
    const blob = Buffer.alloc(300);
    await s.write("result", A, blob);
    await s.write("result", B, blob);
    await s.write("manifest", C, blob);
    expect(await s.usage()).toMatchObject({ sizeBytes: 900, entries: 3 });
    expect(await s.read("result", A)).toBeDefined(); // A is now more recent than B and C

    await s.write("result", D, blob); // 1200 > 1000: evicts B
    expect(await s.usage()).toMatchObject({ sizeBytes: 900, entries: 3 });
    expect(existsSync(blobPath("result", B))).toBe(false);
    expect(await s.read("result", B)).toBeUndefined();

    await s.write("result", E, blob); // evicts the manifest C (manifests count too), not A
    expect(await s.usage()).toMatchObject({ sizeBytes: 900, entries: 3 });
    expect(await s.read("manifest", C)).toBeUndefined();
    for (const k of [A, D, E]) expect(await s.read("result", k)).toBeDefined();

    // One write far over the limit evicts as much as it takes, itself last.
    await s.write("result", B, Buffer.alloc(850));
    expect(await s.usage()).toMatchObject({ sizeBytes: 850, entries: 1 });
    expect(await s.read("result", B)).toBeDefined();
  });

  it("persists read recency in mtimes, so a new process evicts by it", async () => {
    const s0 = open(1000);
    const blob = Buffer.alloc(300);
    for (const k of [A, B, C]) await s0.write("result", k, blob);
    await s0.close();
    const now = Date.now() / 1000;
    await utimes(blobPath("result", A), now - 3000, now - 3000);
    await utimes(blobPath("result", B), now - 2000, now - 2000);
    await utimes(blobPath("result", C), now - 1000, now - 1000);
    const s1 = open(1000);
    expect(await s1.read("result", A)).toBeDefined();
    expect(await s1.read("result", A)).toBeDefined(); // a second read within the bump interval costs no syscall
    await s1.close(); // waits for the mtime update
    expect((await stat(blobPath("result", A))).mtimeMs).toBeGreaterThan((now - 60) * 1000);

    const s2 = open(1000);
    await s2.write("result", D, blob);
    expect(await s2.usage()).toMatchObject({ sizeBytes: 900, entries: 3 });
    expect(existsSync(blobPath("result", B))).toBe(false);
    for (const k of [A, C, D]) expect(existsSync(blobPath("result", k))).toBe(true);
  });

  it("does not evict a blob another process sharing the directory read recently", async () => {
    const s1 = open(1000);
    const s2 = open(1000);
    const blob = Buffer.alloc(300);
    const realNow = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(realNow - 60_000);
    try {
      for (const k of [A, B, C]) await s1.write("result", k, blob);
      await s1.usage(); // index updated while the clock says a minute ago
    } finally {
      clock.mockRestore();
    }
    for (const k of [A, B, C]) await utimes(blobPath("result", k), (realNow - 60_000) / 1000, (realNow - 60_000) / 1000);
    expect(await s2.read("result", A)).toBeDefined();
    await s2.close();

    await s1.write("result", D, blob);
    await s1.usage();
    expect(existsSync(blobPath("result", A))).toBe(true);
    expect(existsSync(blobPath("result", B))).toBe(false);
  });

  it("treats a non-positive limit as no limit", async () => {
    const s = open(0);
    for (const k of [A, B, C]) await s.write("result", k, Buffer.alloc(1000));
    expect(await s.usage()).toMatchObject({ sizeBytes: 3000, entries: 3 });
  });
});

describe("LocalDiskStorage shared by several processes", () => {
  it("never exposes a partial blob while processes write, read and evict the same keys", { timeout: 30_000 }, async () => {
    // The children need the storage as JavaScript: bundle the sources under test.
    const { build } = await import("esbuild");
    const work = resolve(dir, "..");
    const bundle = join(work, "storage.cjs");
    await build({
      stdin: {
        contents: `export { LocalDiskStorage } from "./local-disk-storage.ts"; export { encodeEntry, decodeEntry } from "./codec.ts";`,
        resolveDir: resolve(import.meta.dirname, "../../src/storage"),
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      outfile: bundle,
      logLevel: "error",
    });
    const child = join(work, "child.cjs");
    await writeFile(
      child,
      `
const { createHash, randomBytes, randomInt } = require("node:crypto");
const { LocalDiskStorage, encodeEntry, decodeEntry } = require(process.argv[2]);
const [, , , dir, writer] = process.argv;
const keys = ${JSON.stringify(Array.from({ length: 6 }, (_, i) => createHash("sha256").update(String(i)).digest("hex")))};
(async () => {
  const s = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes: 400000 });
  for (let i = 0; i < 80; i++) {
    const data = randomBytes(randomInt(0, 100000));
    const stdout = Buffer.from(createHash("sha256").update(data).digest("hex"));
    const wk = keys[randomInt(keys.length)];
    const blob = await encodeEntry({ outputs: [{ role: "object", data }], stdout, stderr: Buffer.from(writer + ":" + i), exitCode: 0, compileMs: i, createdAt: Date.now() }, wk);
    await s.write("result", wk, blob);
    const rk = keys[randomInt(keys.length)];
    const raw = await s.read("result", rk);
    if (raw) {
      const e = await decodeEntry(raw, rk);
      if (createHash("sha256").update(e.outputs[0].data).digest("hex") !== e.stdout.toString()) throw new Error("mixed-up blob");
    }
  }
  await s.close();
})().catch((err) => { console.error(err); process.exit(1); });
`,
    );

    const run = (writer: string) =>
      new Promise<{ code: number | null; stderr: string }>((done) => {
        const p = spawn(process.execPath, [child, bundle, dir, writer], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        p.on("close", (code) => done({ code, stderr }));
      });
    const children = Promise.all([run("w1"), run("w2"), run("w3")]);
    let running = true;
    void children.finally(() => (running = false));

    // Meanwhile this process reads every blob it can find, straight from disk.
    let reads = 0;
    const failures: string[] = [];
    const checkBlob = async (file: string) => {
      const raw = await readFile(file).catch(() => undefined);
      if (!raw) return;
      try {
        const e = await decodeEntry(raw, basename(file));
        if (createHash("sha256").update(e.outputs[0]!.data).digest("hex") !== e.stdout.toString()) failures.push(`${file}: mixed-up blob`);
        reads++;
      } catch (err) {
        failures.push(`${file}: ${(err as Error).message}`);
      }
    };
    while (running) {
      const files = (await listFiles(join(dir, "results"))).filter((f) => !f.includes(".tmp-"));
      await Promise.all(files.map(checkBlob));
      await new Promise((r) => setImmediate(r));
    }

    const results = await children;
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    const left = await listFiles(join(dir, "results"));
    expect(left.filter((f) => f.includes(".tmp-"))).toEqual([]);
    expect(left.length).toBeGreaterThan(0);
    for (const f of left) await checkBlob(f);
    expect(failures).toEqual([]);
  });
});

// The hit index keeps a large output as a hard link to its stored entry (engine/lead-copy.ts linkLead): only to the very file checked.
describe("LocalDiskStorage.openLocal(...).linkTo", () => {
  it("links the open entry itself, private as stored", async () => {
    const s = open();
    await s.write("result", A, Buffer.from("stored bytes"));
    const blob = s.openLocal("result", A)!;
    const dest = join(dir, "..", "link");
    try {
      expect(blob.linkTo?.(dest)).toBe(true);
    } finally {
      blob.close();
    }
    expect((await stat(dest)).ino).toBe((await stat(blobPath("result", A))).ino);
    expect((await stat(dest)).mode & 0o777).toBe(0o600);
    expect(await readFile(dest, "utf8")).toBe("stored bytes");
  });

  it("makes no link when another file was renamed over the entry after it was opened", async () => {
    const s = open();
    await s.write("result", A, Buffer.from("checked bytes"));
    const blob = s.openLocal("result", A)!;
    const other = join(dir, "..", "other");
    await writeFile(other, "other bytes", { mode: 0o600 });
    await rename(other, blobPath("result", A));
    const dest = join(dir, "..", "link");
    try {
      expect(blob.linkTo?.(dest)).toBe(false);
    } finally {
      blob.close();
    }
    expect(existsSync(dest), "nothing left at the destination").toBe(false);
  });

  it("makes no link to an entry others can read", async () => {
    const s = open();
    await s.write("result", A, Buffer.from("stored bytes"));
    await chmod(blobPath("result", A), 0o644);
    const blob = s.openLocal("result", A)!;
    const dest = join(dir, "..", "link");
    try {
      expect(blob.linkTo?.(dest)).toBe(false);
    } finally {
      blob.close();
    }
    expect(existsSync(dest)).toBe(false);
  });
});

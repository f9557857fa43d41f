import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LocalDiskStorage } from "../../src/storage/local-disk-storage.js";
import { UnsafeCacheDirError } from "../../src/storage/cache-root.js";
import { EntryKeyMismatchError } from "../../src/util/errors.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const STRANGER = 54321;

let work: string;
const storages: LocalDiskStorage[] = [];

function storage(dir: string): LocalDiskStorage {
  const s = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes: 1 << 30 });
  storages.push(s);
  return s;
}

function setup(): string {
  work = mkdtempSync(join(tmpdir(), "reprise-cachedir-"));
  return join(work, "cache");
}

afterEach(async () => {
  await Promise.all(storages.splice(0).map((s) => s.close()));
  rmSync(work, { recursive: true, force: true });
});

describe("the cache directory belongs to the user alone", () => {
  it("is created 0700, with its folders, whatever the umask", async () => {
    const dir = setup();
    const old = process.umask(0);
    try {
      await storage(dir).write("result", A, Buffer.from("x"));
    } finally {
      process.umask(old);
    }
    for (const d of [dir, join(dir, "results"), join(dir, "results", "aa")]) expect(lstatSync(d).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(dir, "results", "aa", A)).mode & 0o777).toBe(0o600);
  });

  it.each([
    ["writable by others", (d: string) => chmodSync(d, 0o777), /writable by group or other users \(mode 0777\)/],
    ["writable by its group", (d: string) => chmodSync(d, 0o770), /writable by group or other users \(mode 0770\)/],
    ["owned by another user", (d: string) => chownSync(d, STRANGER, STRANGER), new RegExp(`owned by uid ${STRANGER}`)],
  ])("a root %s is refused for reading and writing, with the reason", async (_what, spoil, reason) => {
    const dir = setup();
    const s = storage(dir);
    await s.write("result", A, Buffer.from("x"));
    spoil(dir);
    const fresh = storage(dir);
    for (const op of [() => fresh.read("result", A), () => fresh.write("result", B, Buffer.from("y")), () => s.read("result", A)]) {
      const err = await op().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeCacheDirError);
      expect((err as Error).message).toMatch(reason);
      expect((err as Error).message).toContain(dir);
    }
  });

  it("a root that is the user's own link to a private directory is used; another user's link, or a link to an open directory, is not", async () => {
    const dir = setup();
    const real = join(work, "elsewhere");
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, dir);
    await storage(dir).write("result", A, Buffer.from("x"));
    expect(readFileSync(join(real, "results", "aa", A), "utf8")).toBe("x");
    lchownSync(dir, STRANGER, STRANGER);
    await expect(storage(dir).read("result", A)).rejects.toThrow(new RegExp(`symbolic link made by uid ${STRANGER}`));
    lchownSync(dir, 0, 0);
    chmodSync(real, 0o777);
    await expect(storage(dir).read("result", A)).rejects.toThrow(/writable by group or other users \(mode 0777\)/);
  });

  it("a shard folder that is a link is never followed, for reading or writing", async () => {
    const dir = setup();
    const s = storage(dir);
    await s.write("result", B, Buffer.from("b"));
    const outside = join(work, "outside");
    mkdirSync(outside, { mode: 0o700 });
    writeFileSync(join(outside, A), "planted");
    mkdirSync(join(dir, "results"), { recursive: true, mode: 0o700 });
    symlinkSync(outside, join(dir, "results", "aa"));
    const fresh = storage(dir);
    await expect(fresh.read("result", A)).rejects.toThrow(/symbolic link/);
    await expect(fresh.write("result", A, Buffer.from("mine"))).rejects.toThrow(/symbolic link/);
    expect(readFileSync(join(outside, A), "utf8")).toBe("planted");
  });

  it("a blob that is a link to another is refused as not its key's, and removed", async () => {
    const dir = setup();
    const s = storage(dir);
    await s.write("result", B, Buffer.from("the entry of B"));
    mkdirSync(join(dir, "results", "aa"), { mode: 0o700 });
    const linkPath = join(dir, "results", "aa", A);
    symlinkSync(join(dir, "results", "bb", B), linkPath);
    await expect(s.read("result", A)).rejects.toBeInstanceOf(EntryKeyMismatchError);
    expect(existsSync(linkPath)).toBe(false);
    expect(readFileSync(join(dir, "results", "bb", B), "utf8")).toBe("the entry of B");
  });

  it("writing over a link replaces the link and leaves its target alone", async () => {
    const dir = setup();
    const s = storage(dir);
    await s.write("result", B, Buffer.from("x"));
    const target = join(work, "target");
    writeFileSync(target, "not yours");
    mkdirSync(join(dir, "results", "aa"), { mode: 0o700 });
    symlinkSync(target, join(dir, "results", "aa", A));
    await s.write("result", A, Buffer.from("entry"));
    expect(readFileSync(target, "utf8")).toBe("not yours");
    expect(lstatSync(join(dir, "results", "aa", A)).isFile()).toBe(true);
  });

  it("a FIFO in a blob's place does not hang a read", async () => {
    const dir = setup();
    const s = storage(dir);
    await s.write("result", B, Buffer.from("x"));
    mkdirSync(join(dir, "results", "aa"), { mode: 0o700 });
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [join(dir, "results", "aa", A)]);
    await expect(s.read("result", A)).rejects.toBeInstanceOf(EntryKeyMismatchError);
  });
});

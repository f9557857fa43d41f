import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { hashBytes } from "../../src/hashing/key-hasher.js";
import { collectToolchainEntries } from "../../src/toolchain/collect-files.js";
import { ToolchainArchiveError } from "../../src/toolchain/errors.js";
import { buildToolchainArchive, inspectToolchainArchive, MANIFEST_NAME, scanToolchainArchive, writeToolchainArchive } from "../../src/toolchain/toolchain-archive.js";
import { ToolchainStore } from "../../src/toolchain/toolchain-store.js";
import type { ToolchainSpec } from "../../src/toolchain/types.js";
import { buildTree, makeElf, rawArchive, removeTempDirs, tempDir, type RawMember } from "./helpers.js";

afterAll(removeTempDirs);

const RUNS_ON = [{ arch: "x86_64", os: "linux", bits: 64 as const }];

/** A toolchain in a sysroot: a driver behind two links, a library, a loader behind an absolute link. */
function fakeToolchain(): { root: string; spec: ToolchainSpec } {
  const root = tempDir("reprise-fake-tc-");
  buildTree(root, {
    "/usr/bin/cc": { link: "cc-1" },
    "/usr/bin/cc-1": { link: "x86_64-cc-1" },
    "/usr/bin/x86_64-cc-1": makeElf({ machine: 62, type: 2, interpreter: "/lib64/ld.so", needed: ["libfoo.so.1"] }),
    "/usr/lib/x86_64-linux-gnu/libfoo.so.1": { link: "libfoo.so.1.2" },
    "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2": makeElf({ machine: 62, soname: "libfoo.so.1" }),
    "/usr/lib/x86_64-linux-gnu/ld.so": makeElf({ machine: 62, soname: "ld.so" }),
    "/usr/lib64/ld.so": { link: "/lib/x86_64-linux-gnu/ld.so" },
    "/lib64": { link: "usr/lib64" },
    "/lib": { link: "usr/lib" },
    "/usr/share/cc/specs": "data\n",
  });
  chmodSync(join(root, "usr/share/cc/specs"), 0o640);
  const entries = collectToolchainEntries({ programs: ["/usr/bin/cc"], files: ["/usr/share/cc/specs"] }, { sysroot: root });
  return { root, spec: { entries, compilerPath: "/usr/bin/cc", family: "test", version: "1.0", identity: "ident", target: "x86_64-linux-gnu", sysroot: root } };
}

describe("packing a toolchain", () => {
  it("keeps every link on the way to the driver and the loader, and only what is needed", () => {
    const { spec } = fakeToolchain();
    const byPath = Object.fromEntries(spec.entries.map((e) => [e.path, e]));
    expect(byPath["/usr/bin/cc"]).toMatchObject({ type: "symlink", linkTarget: "cc-1" });
    expect(byPath["/usr/bin/cc-1"]).toMatchObject({ type: "symlink", linkTarget: "x86_64-cc-1" });
    expect(byPath["/usr/bin/x86_64-cc-1"]).toMatchObject({ type: "file", role: "program" });
    expect(byPath["/lib64"]).toMatchObject({ type: "symlink", linkTarget: "usr/lib64" });
    expect(byPath["/usr/lib64/ld.so"]).toMatchObject({ type: "symlink", linkTarget: "/lib/x86_64-linux-gnu/ld.so" });
    expect(byPath["/usr/lib/x86_64-linux-gnu/ld.so"]).toMatchObject({ type: "file", role: "library" });
    expect(byPath["/usr/lib/x86_64-linux-gnu/libfoo.so.1.2"]).toMatchObject({ type: "file", role: "library" });
    expect(byPath["/usr/share/cc/specs"]).toMatchObject({ type: "file", role: "data" });
    expect(byPath["/usr/share/cc"]).toMatchObject({ type: "directory" });
    expect(Object.keys(byPath)).not.toContain("/etc");
  });

  it("gives the same bytes (and id) whatever the files' times, owners and the sysroot's location", async () => {
    const a = fakeToolchain();
    const b = fakeToolchain();
    utimesSync(join(b.root, "usr/bin/x86_64-cc-1"), new Date(1e12), new Date(1e12));
    const one = await buildToolchainArchive(a.spec, RUNS_ON);
    const two = await buildToolchainArchive({ ...b.spec }, RUNS_ON);
    expect(one.bytes.equals(two.bytes)).toBe(true);
    expect(one.id).toBe(two.id);
    expect(one.id).toBe(hashBytes(one.bytes));
    // gzip header: no time, OS = Unix.
    expect([...one.bytes.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, one.bytes[8]!, 3]);
  });

  it("writes sorted members with fixed owners, times and modes, the manifest first", async () => {
    const { spec } = fakeToolchain();
    const dir = tempDir();
    const w = await writeToolchainArchive(spec, RUNS_ON, join(dir, "tc.tar.gz"));
    const tar = gunzipSync(readFileSync(w.path));
    const names: string[] = [];
    for (let off = 0; off + 512 <= tar.length; ) {
      const h = tar.subarray(off, off + 512);
      if (h.every((b) => b === 0)) break;
      const name = h.toString("utf8", 0, 100).replace(/\0.*$/s, "");
      const size = parseInt(h.toString("utf8", 124, 136).replace(/\0.*$/s, "").trim() || "0", 8);
      const mtime = parseInt(h.toString("utf8", 136, 148).replace(/\0.*$/s, "").trim(), 8);
      const uid = parseInt(h.toString("utf8", 108, 116).replace(/\0.*$/s, "").trim(), 8);
      const mode = parseInt(h.toString("utf8", 100, 108).replace(/\0.*$/s, "").trim(), 8);
      expect({ name, mtime, uid }).toEqual({ name, mtime: 0, uid: 0 });
      if (name === "usr/share/cc/specs") expect(mode).toBe(0o644);
      if (name === "usr/bin/x86_64-cc-1") expect(mode).toBe(0o755);
      names.push(name);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    expect(names[0]).toBe(MANIFEST_NAME);
    const rest = names.slice(1).map((n) => n.replace(/\/$/, ""));
    expect(rest).toEqual([...rest].sort());
    const inspected = await inspectToolchainArchive(w.path);
    expect(inspected.id).toBe(w.id);
    expect(inspected.manifest).toMatchObject({ family: "test", version: "1.0", compilerPath: "/usr/bin/cc", target: "x86_64-linux-gnu", runsOn: RUNS_ON });
    expect(inspected.entries.map((e) => e.name)).toEqual(rest);
  });

  it("unpacks into a store: files, modes, links (absolute targets made relative to stay inside)", async () => {
    const { spec } = fakeToolchain();
    const built = await buildToolchainArchive(spec, RUNS_ON);
    const store = new ToolchainStore({ dir: tempDir() });
    const root = await store.ensure(built.id, built.bytes);
    expect(readlinkSync(join(root, "usr/bin/cc"))).toBe("cc-1");
    expect(readlinkSync(join(root, "usr/lib64/ld.so"))).toBe("../../lib/x86_64-linux-gnu/ld.so");
    expect(readFileSync(join(root, "lib64/ld.so")).equals(readFileSync(join(spec.sysroot!, "usr/lib/x86_64-linux-gnu/ld.so")))).toBe(true);
    expect(statSync(join(root, "usr/bin/x86_64-cc-1")).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, "usr/share/cc/specs")).mode & 0o777).toBe(0o644);
    expect(existsSync(join(root, MANIFEST_NAME))).toBe(false);
    expect(store.manifest(built.id)?.compilerPath).toBe("/usr/bin/cc");
  });
});

describe("refusing archives that could escape", () => {
  const file = (name: string, data = "x"): RawMember => ({ header: { name, type: "file", size: Buffer.byteLength(data) }, data: Buffer.from(data) });
  const dir = (name: string): RawMember => ({ header: { name, type: "directory" } });
  const symlink = (name: string, target: string): RawMember => ({ header: { name, type: "symlink", linkname: target } });
  const hardlink = (name: string, target: string): RawMember => ({ header: { name, type: "link", linkname: target } });

  async function refused(members: RawMember[], options: { manifest?: boolean | object; limits?: object } = {}) {
    const bytes = await rawArchive(members, options);
    const id = hashBytes(bytes);
    const storeDir = tempDir();
    const store = new ToolchainStore({ dir: storeDir, limits: options.limits ?? {} });
    const err = await store.ensure(id, bytes).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ToolchainArchiveError);
    // Nothing unpacked, nothing left behind.
    expect(store.has(id)).toBe(false);
    expect(readdirSync(storeDir).filter((n) => !n.startsWith("."))).toEqual([]);
    expect(existsSync(join(storeDir, ".tmp")) ? readdirSync(join(storeDir, ".tmp")) : []).toEqual([]);
    return err as ToolchainArchiveError;
  }

  it.each([
    ["'..' in a name", [file("../evil")], "../evil", "'..'"],
    ["'..' inside a name", [dir("usr"), file("usr/../../evil")], "usr/../../evil", "'..'"],
    ["an absolute name", [file("/etc/passwd")], "/etc/passwd", "absolute"],
    ["a symlink climbing out", [dir("usr"), symlink("usr/up", "../../etc")], "usr/up", "leaves the toolchain root"],
    ["a symlink climbing out from an absolute target", [symlink("up", "/../../etc")], "up", "leaves the toolchain root"],
    ["a symlink escaping through another link's '..'", [symlink("top", "/"), symlink("out", "top/..")], "out", "leaves the toolchain root"],
    ["a file written through a symlink", [symlink("usr", "/tmp"), file("usr/f")], "usr/f", "symlink"],
    ["a hard link climbing out", [hardlink("h", "../../etc/passwd")], "h", "leaves the toolchain root"],
    ["a hard link to an absolute path", [hardlink("h", "/etc/passwd")], "h", "absolute"],
    ["a hard link to something not in the archive", [hardlink("h", "nothere")], "h", "not a regular file"],
    ["a hard link to a symlink", [symlink("s", "/etc/passwd"), hardlink("h", "s")], "h", "not a regular file"],
    ["a character device", [{ header: { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3 } }], "dev/null", "device"],
    ["a block device", [{ header: { name: "sda", type: "block-device", devmajor: 8, devminor: 0 } }], "sda", "device"],
    ["a FIFO", [{ header: { name: "pipe", type: "fifo" } }], "pipe", "FIFO"],
    ["a duplicate name", [file("a"), file("a", "y")], "a", "twice"],
    ["a directory replaced by a link", [dir("d"), symlink("d", "/")], "d", "twice"],
  ] as [string, RawMember[], string, string][])("%s", async (_what, members, entry, reason) => {
    const err = await refused(members);
    expect(err.entry).toBe(entry);
    expect(err.message).toContain(`"${entry}"`);
    expect(err.message).toContain(reason);
  });

  it("an archive that unpacks to more than the limit, naming the entry that crosses it", async () => {
    const err = await refused([file("small", "x".repeat(600)), file("big", "x".repeat(600))], { limits: { maxUnpackedBytes: 1000 } });
    expect(err.entry).toBe("big");
    expect(err.message).toMatch(/more than the limit of 1000 bytes/);
  });

  it("an archive file over the size limit, before reading it", async () => {
    const err = await refused([file("a", "x".repeat(5000))], { limits: { maxArchiveBytes: 100 } });
    expect(err.message).toMatch(/over the limit of 100/);
  });

  it("too many entries", async () => {
    const err = await refused([file("a"), file("b"), file("c")], { limits: { maxEntries: 2 } });
    expect(err.entry).toBe("c");
  });

  it("an archive without the manifest first", async () => {
    const err = await refused([file("usr/bin/cc")], { manifest: false });
    expect(err.message).toMatch(/first entry must be \.reprise-toolchain\.json/);
  });

  it("a member the manifest does not list", async () => {
    const manifest = { formatVersion: 1, family: "t", version: "1", compilerPath: "/a", identity: "i", runsOn: [], files: [{ path: "/a", type: "file", size: 1, mode: 0o644 }] };
    const err = await refused([file("a"), file("extra")], { manifest });
    expect(err.entry).toBe("extra");
    expect(err.message).toMatch(/manifest does not list/);
  });

  it("an archive whose bytes are not the id asked for", async () => {
    const bytes = await rawArchive([file("a")]);
    const store = new ToolchainStore({ dir: tempDir() });
    await expect(store.ensure("0".repeat(64), bytes)).rejects.toThrow(/content id is [0-9a-f]{64}, not the expected 0{64}/);
  });

  it("accepts links that stay inside, absolute or relative, and dangling ones", async () => {
    const members = [dir("lib"), file("lib/ld.so"), dir("usr"), symlink("usr/ld.so", "/lib/ld.so"), symlink("usr/rel", "../lib/ld.so"), symlink("usr/dangling", "/nowhere/at/all"), symlink("root", "/")];
    const bytes = await rawArchive(members);
    const scanned = await scanToolchainArchive(bytes, "test");
    expect(scanned.entries.map((e) => e.name)).toEqual(["lib", "lib/ld.so", "usr", "usr/ld.so", "usr/rel", "usr/dangling", "root"]);
    const store = new ToolchainStore({ dir: tempDir() });
    const root = await store.ensure(hashBytes(bytes), bytes);
    expect(readlinkSync(join(root, "usr/ld.so"))).toBe("../lib/ld.so");
    expect(readlinkSync(join(root, "root"))).toBe(".");
    expect(readFileSync(join(root, "usr/ld.so"), "utf8")).toBe("x");
  });

  it("reports the entry through inspect too (reprise toolchain inspect checks the same way)", async () => {
    const d = tempDir();
    writeFileSync(join(d, "bad.tar.gz"), await rawArchive([file("../x")]));
    await expect(inspectToolchainArchive(join(d, "bad.tar.gz"))).rejects.toThrow(/entry "\.\.\/x": '\.\.' would leave the toolchain root/);
  });
});

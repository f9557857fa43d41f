import { gzipSync } from "node:zlib";
import { join } from "node:path";
// @ts-expect-error the tar-stream hoisted here (tar-fs's) ships no types; core's own newer copy does
import tar from "tar-stream";
import { hashBytes } from "../../packages/core/src/hashing/key-hasher.js";

export interface MaliciousArchive {
  name: string;
  bytes: Buffer;
  /** The archive's content id (what a client would name it by). */
  id: string;
  /** Paths the archive tries to write outside the toolchain root: must never exist. */
  escapes: string[];
}

type Entry = { name: string; type?: "file" | "symlink" | "character-device" | "directory"; data?: string; linkname?: string };

async function pack(entries: Entry[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => p.on("end", r));
  const manifest = JSON.stringify({ formatVersion: 1, family: "gcc", version: "1", compilerPath: "/usr/bin/gcc", identity: "x", runsOn: [], files: [] });
  p.entry({ name: ".reprise-toolchain.json", type: "file" }, manifest);
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? "file", ...(e.linkname ? { linkname: e.linkname } : {}), ...(e.type === "character-device" ? { devmajor: 1, devminor: 3 } : {}) };
    if (header.type === "file") p.entry(header, e.data ?? "x");
    else p.entry(header);
  }
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** Archives a hostile client could upload as a toolchain: each must be refused before anything is written. */
export async function maliciousArchives(outside: string): Promise<MaliciousArchive[]> {
  const escape = join(outside, "escaped-by-archive");
  const cases: [string, Entry[], string[]][] = [
    ["a path with ..", [{ name: "../../../../../../../..".concat(escape) }], [escape]],
    ["an absolute path", [{ name: escape }], [escape]],
    ["a symlink out of the root, then a file through it", [{ name: "lnk", type: "symlink", linkname: outside }, { name: "lnk/escaped-by-archive" }], [escape]],
    ["a device node", [{ name: "dev-null", type: "character-device" }], []],
    ["not a gzip at all", [], []],
  ];
  const out: MaliciousArchive[] = [];
  for (const [name, entries, escapes] of cases) {
    const bytes = name === "not a gzip at all" ? Buffer.from("this is not an archive") : await pack(entries);
    out.push({ name, bytes, id: hashBytes(bytes), escapes });
  }
  return out;
}

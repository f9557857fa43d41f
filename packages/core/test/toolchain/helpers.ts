import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import * as tarStream from "tar-stream";

const dirs: string[] = [];

export function tempDir(prefix = "reprise-toolchain-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface FakeElf {
  bits?: 32 | 64;
  endian?: "little" | "big";
  machine?: number;
  osAbi?: number;
  type?: number;
  interpreter?: string;
  needed?: string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  flags1?: number;
  /** Leave out the dynamic section (a static program). */
  noDynamic?: boolean;
}

/**
 * A minimal ELF file with the parts a loader reads: a PT_LOAD covering the
 * file at a non-zero address, PT_INTERP, PT_DYNAMIC with its string table.
 */
export function makeElf(spec: FakeElf): Buffer {
  const bits = spec.bits ?? 64;
  const le = (spec.endian ?? "little") === "little";
  const ehsize = bits === 64 ? 64 : 52;
  const phentsize = bits === 64 ? 56 : 32;
  const dynEnt = bits === 64 ? 16 : 8;
  const base = 0x400000;

  const strings: string[] = [""];
  const strOffset = (s: string) => {
    let off = 0;
    for (const x of strings) {
      if (x === s) return off;
      off += Buffer.byteLength(x) + 1;
    }
    strings.push(s);
    return off;
  };
  const dyn: [number, number][] = [];
  for (const n of spec.needed ?? []) dyn.push([1, strOffset(n)]);
  if (spec.soname) dyn.push([14, strOffset(spec.soname)]);
  if (spec.rpath) dyn.push([15, strOffset(spec.rpath)]);
  if (spec.runpath) dyn.push([29, strOffset(spec.runpath)]);
  if (spec.flags1) dyn.push([0x6ffffffb, spec.flags1]);
  const strtab = Buffer.concat(strings.map((s) => Buffer.from(s + "\0")));

  const phnum = 1 + (spec.interpreter ? 1 : 0) + (spec.noDynamic ? 0 : 1);
  const phoff = ehsize;
  let cursor = phoff + phnum * phentsize;
  const interp = spec.interpreter ? Buffer.from(spec.interpreter + "\0") : undefined;
  const interpOff = cursor;
  if (interp) cursor += interp.length;
  cursor = (cursor + 7) & ~7;
  const strtabOff = cursor;
  cursor += strtab.length;
  cursor = (cursor + 7) & ~7;
  const dynOff = cursor;
  dyn.push([5, base + strtabOff], [10, strtab.length], [0, 0]);
  cursor += dyn.length * dynEnt;
  const size = cursor;

  const buf = Buffer.alloc(size);
  const w16 = (o: number, v: number) => (le ? buf.writeUInt16LE(v, o) : buf.writeUInt16BE(v, o));
  const w32 = (o: number, v: number) => (le ? buf.writeUInt32LE(v >>> 0, o) : buf.writeUInt32BE(v >>> 0, o));
  const w64 = (o: number, v: number) => (le ? buf.writeBigUInt64LE(BigInt(v), o) : buf.writeBigUInt64BE(BigInt(v), o));
  const wWord = (o: number, v: number) => (bits === 64 ? w64(o, v) : w32(o, v));
  buf.set([0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, le ? 1 : 2, 1, spec.osAbi ?? 0], 0);
  w16(16, spec.type ?? 3);
  w16(18, spec.machine ?? 62);
  w32(20, 1);
  if (bits === 64) {
    w64(32, phoff);
    w16(52, ehsize);
    w16(54, phentsize);
    w16(56, phnum);
  } else {
    w32(28, phoff);
    w16(40, ehsize);
    w16(42, phentsize);
    w16(44, phnum);
  }
  let ph = phoff;
  const phdr = (type: number, offset: number, filesz: number) => {
    w32(ph, type);
    if (bits === 64) {
      w64(ph + 8, offset);
      w64(ph + 16, base + offset);
      w64(ph + 24, base + offset);
      w64(ph + 32, filesz);
      w64(ph + 40, filesz);
    } else {
      w32(ph + 4, offset);
      w32(ph + 8, base + offset);
      w32(ph + 12, base + offset);
      w32(ph + 16, filesz);
      w32(ph + 20, filesz);
    }
    ph += phentsize;
  };
  phdr(1, 0, size);
  if (interp) {
    phdr(3, interpOff, interp.length);
    interp.copy(buf, interpOff);
  }
  if (!spec.noDynamic) phdr(2, dynOff, dyn.length * dynEnt);
  strtab.copy(buf, strtabOff);
  let o = dynOff;
  for (const [tag, val] of dyn) {
    if (bits === 64) {
      if (le) buf.writeBigInt64LE(BigInt(tag), o);
      else buf.writeBigInt64BE(BigInt(tag), o);
      w64(o + 8, val);
    } else {
      if (le) buf.writeInt32LE(tag | 0, o);
      else buf.writeInt32BE(tag | 0, o);
      w32(o + 4, val);
    }
    o += dynEnt;
  }
  return spec.noDynamic ? buf.subarray(0, strtabOff) : buf;
}

/** Writes files (Buffer/string) and symlinks ({ link }) under `root`, at absolute paths inside it. */
export function buildTree(root: string, tree: Record<string, Buffer | string | { link: string } | { dir: true }>): void {
  for (const [path, what] of Object.entries(tree)) {
    const host = join(root, path);
    mkdirSync(dirname(host), { recursive: true });
    if (typeof what === "string" || Buffer.isBuffer(what)) writeFileSync(host, what, { mode: 0o755 });
    else if ("link" in what) symlinkSync(what.link, host);
    else mkdirSync(host, { recursive: true });
  }
}

export interface RawMember {
  header: tarStream.Header | (Partial<tarStream.Header> & { name: string });
  data?: Buffer;
}

/**
 * A gzip'd tar written member by member, for archives no packer would make.
 * A manifest listing the members comes first unless `manifest: false`.
 */
export async function rawArchive(members: RawMember[], options: { manifest?: boolean | object } = {}): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: unknown) => void chunks.push(c as Buffer));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  const add = (header: RawMember["header"], data?: Buffer) =>
    new Promise<void>((resolve, reject) => pack.entry({ mtime: new Date(0), mode: 0o644, ...header }, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
  if (options.manifest !== false) {
    const files = members.map((m) => {
      const type = m.header.type === "link" ? "file" : (m.header.type ?? "file");
      const name = m.header.name.replace(/^\.\//, "").replace(/\/$/, "");
      return { path: "/" + name, type, size: type === "file" ? (m.data?.length ?? m.header.size ?? 0) : 0, mode: 0o644, ...(m.header.type === "symlink" ? { linkTarget: m.header.linkname } : {}) };
    });
    const manifest = typeof options.manifest === "object" ? options.manifest : { formatVersion: 1, family: "test", version: "1", compilerPath: "/usr/bin/cc", identity: "test", runsOn: [{ arch: "x86_64", os: "linux", bits: 64 }], files };
    await add({ name: ".reprise-toolchain.json", type: "file" }, Buffer.from(JSON.stringify(manifest)));
  }
  for (const m of members) await add(m.header, m.data);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export { ensureDebianPackages } from "../../../../test/support/sandbox-engines.js";

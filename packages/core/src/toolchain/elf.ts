import { closeSync, openSync, readSync } from "node:fs";
import type { Platform } from "./types.js";

/**
 * A reader for the parts of ELF files a loader looks at: the header (class,
 * byte order, OS ABI, machine), the program interpreter and the dynamic
 * section (needed libraries, rpath, runpath, soname). 32/64-bit and both byte
 * orders; only the program headers are used, as the loader does (section
 * headers may be stripped).
 */

export const ET_EXEC = 2;
export const ET_DYN = 3;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;

const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const DT_FLAGS_1 = 0x6ffffffb;
/** DF_1_NODEFLIB: do not search the default directories (nor the cache). */
export const DF_1_NODEFLIB = 0x800;

export interface ElfInfo {
  bits: 32 | 64;
  endian: "little" | "big";
  /** EI_OSABI (0 System V, 3 GNU/Linux, 9 FreeBSD, ...). */
  osAbi: number;
  /** e_machine (62 x86-64, 183 AArch64, ...). */
  machine: number;
  /** e_type (2 executable, 3 shared object / PIE). */
  type: number;
  /** PT_INTERP: the program interpreter (dynamic loader) a program asks for. */
  interpreter?: string;
  /** DT_NEEDED, in order. */
  needed: string[];
  soname?: string;
  /** DT_RPATH, split on ':' (empty when the object also has DT_RUNPATH: the loader then ignores it). */
  rpath: string[];
  /** DT_RUNPATH, split on ':'. */
  runpath: string[];
  /** DT_FLAGS_1. */
  flags1: number;
  /** Whether the file has a dynamic section at all (a static program has none). */
  dynamic: boolean;
}

export class ElfError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "ElfError";
  }
}

/** Reads byte ranges of a file (or of a buffer, for tests). */
interface ByteSource {
  read(offset: number, length: number): Buffer;
  readonly name: string;
}

function fileSource(fd: number, name: string): ByteSource {
  return {
    name,
    read(offset, length) {
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      if (done < length) throw new ElfError(name, `truncated (wanted ${length} bytes at offset ${offset})`);
      return buf;
    },
  };
}

function bufferSource(data: Buffer, name: string): ByteSource {
  return {
    name,
    read(offset, length) {
      if (offset < 0 || offset + length > data.length) throw new ElfError(name, `truncated (wanted ${length} bytes at offset ${offset})`);
      return data.subarray(offset, offset + length);
    },
  };
}

export function isElfMagic(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Parses an ELF file held in memory. Throws ElfError if it is not one or is malformed. */
export function parseElf(data: Buffer, name = "<buffer>"): ElfInfo {
  return parse(bufferSource(data, name));
}

/** Reads an ELF file's header and dynamic information; undefined if the file is not ELF. Throws ElfError if malformed. */
export function readElf(path: string): ElfInfo | undefined {
  const fd = openSync(path, "r");
  try {
    const src = fileSource(fd, path);
    const head = Buffer.alloc(4);
    if (readSync(fd, head, 0, 4, 0) < 4 || !isElfMagic(head)) return undefined;
    return parse(src);
  } finally {
    closeSync(fd);
  }
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

function parse(src: ByteSource): ElfInfo {
  const ident = src.read(0, 16);
  if (!isElfMagic(ident)) throw new ElfError(src.name, "not an ELF file");
  const cls = ident[4];
  const data = ident[5];
  if (cls !== 1 && cls !== 2) throw new ElfError(src.name, `unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw new ElfError(src.name, `unknown ELF data encoding ${data}`);
  const bits = cls === 1 ? 32 : 64;
  const le = data === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => {
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(src.name, "64-bit value out of range");
    return Number(v);
  };
  const word = (b: Buffer, o: number) => (bits === 64 ? u64(b, o) : u32(b, o));

  const header = src.read(0, bits === 64 ? 64 : 52);
  const type = u16(header, 16);
  const machine = u16(header, 18);
  const phoff = bits === 64 ? u64(header, 32) : u32(header, 28);
  const shoff = bits === 64 ? u64(header, 40) : u32(header, 32);
  const phentsize = u16(header, bits === 64 ? 54 : 42);
  let phnum = u16(header, bits === 64 ? 56 : 44);
  const shentsize = u16(header, bits === 64 ? 58 : 46);
  if (phnum === 0xffff && shoff) {
    // PN_XNUM: the real count is in sh_info of section 0.
    const sh0 = src.read(shoff, shentsize);
    phnum = u32(sh0, bits === 64 ? 44 : 28);
  }
  const minPh = bits === 64 ? 56 : 32;
  if (phnum > 0 && phentsize < minPh) throw new ElfError(src.name, `program header entries of ${phentsize} bytes`);

  const segments: Segment[] = [];
  if (phnum > 0) {
    const table = src.read(phoff, phnum * phentsize);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (bits === 64) {
        segments.push({ type: u32(table, o), offset: u64(table, o + 8), vaddr: u64(table, o + 16), filesz: u64(table, o + 32) });
      } else {
        segments.push({ type: u32(table, o), offset: u32(table, o + 4), vaddr: u32(table, o + 8), filesz: u32(table, o + 16) });
      }
    }
  }

  const info: ElfInfo = { bits, endian: le ? "little" : "big", osAbi: ident[7]!, machine, type, needed: [], rpath: [], runpath: [], flags1: 0, dynamic: false };

  const interp = segments.find((s) => s.type === PT_INTERP);
  if (interp && interp.filesz > 0) info.interpreter = cString(src.read(interp.offset, interp.filesz), 0);

  const dyn = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dyn || dyn.filesz === 0) return info;
  info.dynamic = true;
  const entSize = bits === 64 ? 16 : 8;
  const table = src.read(dyn.offset, dyn.filesz - (dyn.filesz % entSize));
  const entries: { tag: number; val: number }[] = [];
  for (let o = 0; o + entSize <= table.length; o += entSize) {
    const tag = bits === 64 ? Number(le ? table.readBigInt64LE(o) : table.readBigInt64BE(o)) : le ? table.readInt32LE(o) : table.readInt32BE(o);
    if (tag === DT_NULL) break;
    entries.push({ tag, val: word(table, o + entSize / 2) });
  }
  const strtabAddr = entries.find((e) => e.tag === DT_STRTAB)?.val;
  const strsz = entries.find((e) => e.tag === DT_STRSZ)?.val;
  if (strtabAddr === undefined || strsz === undefined) return info;
  // DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD that holds it.
  const load = segments.find((s) => s.type === PT_LOAD && strtabAddr >= s.vaddr && strtabAddr < s.vaddr + s.filesz);
  if (!load) throw new ElfError(src.name, "dynamic string table outside every loaded segment");
  const strtab = src.read(strtabAddr - load.vaddr + load.offset, strsz);
  const str = (off: number) => {
    if (off >= strtab.length) throw new ElfError(src.name, `string offset ${off} past the dynamic string table`);
    return cString(strtab, off);
  };
  let rpath: string[] = [];
  for (const e of entries) {
    if (e.tag === DT_NEEDED) info.needed.push(str(e.val));
    else if (e.tag === DT_SONAME) info.soname = str(e.val);
    else if (e.tag === DT_RPATH) rpath = rpath.concat(splitPath(str(e.val)));
    else if (e.tag === DT_RUNPATH) info.runpath = info.runpath.concat(splitPath(str(e.val)));
    else if (e.tag === DT_FLAGS_1) info.flags1 = e.val;
  }
  // The loader ignores DT_RPATH when DT_RUNPATH is present.
  info.rpath = info.runpath.length ? [] : rpath;
  return info;
}

function cString(buf: Buffer, start: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end === -1 ? buf.length : end);
}

function splitPath(value: string): string[] {
  return value.split(":").filter((d) => d !== "");
}

/** Names an architecture from the ELF class and byte order, for one e_machine. */
type ArchNamer = (bits: 32 | 64, endian: "little" | "big") => string;

const always = (name: string): ArchNamer => () => name;
const byClass = (wide: string, narrow: string): ArchNamer => (bits) => (bits === 64 ? wide : narrow);
const byOrder = (little: string, big: string): ArchNamer => (_bits, endian) => (endian === "big" ? big : little);

/** e_machine → its architecture's name. */
const ARCH_NAMERS: ReadonlyMap<number, ArchNamer> = new Map([
  [3, always("i386")],
  [62, byClass("x86_64", "x32")],
  [183, byOrder("aarch64", "aarch64_be")],
  [40, byOrder("arm", "armeb")],
  [243, byClass("riscv64", "riscv32")],
  [8, (bits, endian) => `mips${bits === 64 ? "64" : ""}${endian === "little" ? "el" : ""}`],
  [20, byOrder("ppcle", "ppc")],
  [21, byOrder("ppc64le", "ppc64")],
  [22, byClass("s390x", "s390")],
  [2, always("sparc")],
  [43, always("sparc64")],
  [258, byClass("loongarch64", "loongarch32")],
]);

/** Architecture names (Node's `process.arch` spelled as ELF/GNU triples spell them). */
export function elfArch(info: Pick<ElfInfo, "machine" | "bits" | "endian">): string {
  return ARCH_NAMERS.get(info.machine)?.(info.bits, info.endian) ?? `elf-machine-${info.machine}`;
}

/** The OS from EI_OSABI; System V (0) and GNU (3) both mean Linux here. */
export function elfOs(osAbi: number): string {
  switch (osAbi) {
    case 0:
    case 3:
      return "linux";
    case 2:
      return "netbsd";
    case 6:
      return "solaris";
    case 9:
      return "freebsd";
    case 12:
      return "openbsd";
    default:
      return `elf-osabi-${osAbi}`;
  }
}

/** The platform a program or library runs on, from its ELF header. */
export function elfPlatform(info: ElfInfo): Platform {
  return { arch: elfArch(info), os: elfOs(info.osAbi), bits: info.bits };
}

/** Whether the loader of `a` would accept `b` as a library (same class, byte order and machine). */
export function elfCompatible(a: Pick<ElfInfo, "bits" | "endian" | "machine">, b: Pick<ElfInfo, "bits" | "endian" | "machine">): boolean {
  return a.bits === b.bits && a.endian === b.endian && a.machine === b.machine;
}

/** Debian multiarch tuples for a machine, used for the loader's default directories and `$LIB`. */
export function multiarchTuples(info: Pick<ElfInfo, "machine" | "bits" | "endian">): string[] {
  switch (elfArch(info)) {
    case "x86_64":
      return ["x86_64-linux-gnu"];
    case "x32":
      return ["x86_64-linux-gnux32"];
    case "i386":
      return ["i386-linux-gnu"];
    case "aarch64":
      return ["aarch64-linux-gnu"];
    case "arm":
      return ["arm-linux-gnueabihf", "arm-linux-gnueabi"];
    case "riscv64":
      return ["riscv64-linux-gnu"];
    case "ppc64le":
      return ["powerpc64le-linux-gnu"];
    case "ppc64":
      return ["powerpc64-linux-gnu"];
    case "ppc":
      return ["powerpc-linux-gnu"];
    case "s390x":
      return ["s390x-linux-gnu"];
    case "mips64el":
      return ["mips64el-linux-gnuabi64"];
    case "mipsel":
      return ["mipsel-linux-gnu"];
    case "mips":
      return ["mips-linux-gnu"];
    case "sparc64":
      return ["sparc64-linux-gnu"];
    case "loongarch64":
      return ["loongarch64-linux-gnu"];
    default:
      return [];
  }
}

import { createReadStream, lstatSync } from "node:fs";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import type * as TarStream from "tar-stream";
import { hashBytes } from "../hashing/key-hasher.js";
import { sortEntries } from "./collect-files.js";
import { ToolchainArchiveError, ToolchainError } from "./errors.js";
import { hostPath, pathComponents } from "./root-path.js";
import type { Platform, ToolchainManifest, ToolchainSpec } from "./types.js";

/** Loaded when an archive is made or read, not by every daemon start that imports this module. */
async function loadTarStream(): Promise<Pick<typeof TarStream, "pack" | "extract">> {
  // A CommonJS package: its exports object is the default export, in Node's loader and in core's bundle alike
  // (the bundle's chunk for it has no named exports).
  return (await import("tar-stream")).default;
}

/**
 * Toolchain archives: a gzip-compressed tar holding the toolchain's files at
 * their absolute paths (as relative names: `usr/bin/gcc-12`), preceded by
 * `.reprise-toolchain.json`, the manifest. Archives are deterministic —
 * entries sorted by path, owners 0/0 without names, times 0, modes
 * normalised (0755 directories and executables, 0644 other files, 0777
 * links), gzip header with time 0 and OS "Unix" — so the same toolchain gives
 * the same bytes, and the same id (the hash of those bytes), on every machine
 * running the same Reprise.
 *
 * Reading checks every entry before anything is written (see
 * `scanToolchainArchive` for the rules).
 */

export const MANIFEST_NAME = ".reprise-toolchain.json";
const MANIFEST_MAX_BYTES = 16 * 1024 * 1024;
const GZIP_LEVEL = 6;
const EPOCH = new Date(0);
const MAX_SYMLINK_HOPS = 40;

export interface ArchiveLimits {
  /** Largest compressed archive accepted. */
  maxArchiveBytes: number;
  /** Largest total size of the files it unpacks to. */
  maxUnpackedBytes: number;
  /** Most entries. */
  maxEntries: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxArchiveBytes: 2 * 1024 ** 3,
  maxUnpackedBytes: 4 * 1024 ** 3,
  maxEntries: 100_000,
};

export interface BuiltArchive {
  /** Content id: hash of `bytes`. */
  id: string;
  bytes: Buffer;
  manifest: ToolchainManifest;
  /** Total size of the files (what unpacking writes). */
  unpackedBytes: number;
}

export interface WrittenArchive extends Omit<BuiltArchive, "bytes"> {
  path: string;
  archiveBytes: number;
}

/** The manifest of a toolchain: what the spec lists, with sizes and normalised modes read from disk. */
export function buildManifest(spec: ToolchainSpec, runsOn: Platform[], extra: Pick<ToolchainManifest, "equivalences"> = {}): ToolchainManifest {
  const root = spec.sysroot ?? "/";
  const files: ToolchainManifest["files"] = [];
  const seen = new Set<string>();
  for (const e of sortEntries([...spec.entries])) {
    if (!e.path.startsWith("/") || pathComponents(e.path).includes("..")) throw new ToolchainError(`cannot package ${e.path}`, "toolchain paths must be absolute and normalised");
    const path = "/" + pathComponents(e.path).join("/");
    if (path === "/" || seen.has(path)) continue;
    seen.add(path);
    let st;
    try {
      st = lstatSync(hostPath(root, path));
    } catch {
      throw new ToolchainError(`cannot package ${path}`, "it does not exist");
    }
    const actual = st.isSymbolicLink() ? "symlink" : st.isDirectory() ? "directory" : st.isFile() ? "file" : "other";
    if (actual !== e.type) throw new ToolchainError(`cannot package ${path}`, `the spec says ${e.type} but it is a ${actual}`);
    const f: ToolchainManifest["files"][number] = { path, type: e.type, size: e.type === "file" ? st.size : 0, mode: normalisedMode(e.type, st.mode) };
    if (e.type === "symlink") f.linkTarget = e.linkTarget ?? "";
    if (e.role && e.type === "file") f.role = e.role;
    files.push(f);
  }
  const manifest: ToolchainManifest = {
    formatVersion: 1,
    family: spec.family,
    version: spec.version,
    compilerPath: spec.compilerPath,
    identity: spec.identity,
    ...(spec.target ? { target: spec.target } : {}),
    runsOn: runsOn.map((p) => ({ arch: p.arch, os: p.os, ...(p.bits ? { bits: p.bits } : {}) })),
    ...(extra.equivalences?.length ? { equivalences: extra.equivalences } : {}),
    files,
  };
  return manifest;
}

function normalisedMode(type: string, mode: number): number {
  if (type === "directory") return 0o755;
  if (type === "symlink") return 0o777;
  return mode & 0o111 ? 0o755 : 0o644;
}

/** Told how many bytes of the toolchain's files are packed so far, of how many. */
export type PackProgress = (packedBytes: number, totalBytes: number) => void;

/** Packs a toolchain into a deterministic .tar.gz in memory. */
export async function buildToolchainArchive(spec: ToolchainSpec, runsOn: Platform[], onProgress?: PackProgress, extra: Pick<ToolchainManifest, "equivalences"> = {}): Promise<BuiltArchive> {
  const manifest = buildManifest(spec, runsOn, extra);
  const root = spec.sysroot ?? "/";
  const json = Buffer.from(JSON.stringify(manifest, null, 1) + "\n");

  const pack = (await loadTarStream()).pack();
  const chunks: Buffer[] = [];
  const gzip = createGzip({ level: GZIP_LEVEL });
  const compressed = new Promise<void>((resolve, reject) => {
    pack.on("error", reject);
    gzip.on("error", reject);
    gzip.on("data", (c: Buffer) => chunks.push(c));
    gzip.on("end", () => resolve());
  });
  pack.pipe(gzip);
  const fixed = { mtime: EPOCH, uid: 0, gid: 0, uname: "", gname: "" };
  try {
    await addEntry(pack, { name: MANIFEST_NAME, type: "file", size: json.length, mode: 0o644, ...fixed }, json);
    const totalBytes = manifest.files.reduce((n, f) => n + f.size, 0);
    let packedBytes = 0;
    for (const f of manifest.files) {
      onProgress?.(packedBytes, totalBytes);
      packedBytes += f.size;
      const name = f.path.slice(1);
      if (f.type === "directory") await addEntry(pack, { name, type: "directory", mode: f.mode, size: 0, ...fixed });
      else if (f.type === "symlink") await addEntry(pack, { name, type: "symlink", linkname: f.linkTarget ?? "", mode: f.mode, size: 0, ...fixed });
      else await addEntry(pack, { name, type: "file", mode: f.mode, size: f.size, ...fixed }, hostPath(root, f.path));
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    gzip.destroy();
    await compressed.catch(() => undefined);
    throw err;
  }
  await compressed;
  const bytes = Buffer.concat(chunks);
  // Bytes 4-7 (mtime) are 0 in Node's gzip header; the OS byte is pinned to Unix.
  bytes.writeUInt32LE(0, 4);
  bytes[9] = 3;
  const unpackedBytes = manifest.files.reduce((n, f) => n + f.size, 0);
  return { id: hashBytes(bytes), bytes, manifest, unpackedBytes };
}

/**
 * Adds one member: `content` is the data itself or the host path of a file to
 * stream (its size must still be the one in the header).
 */
async function addEntry(pack: TarStream.Pack, header: TarStream.Header | Partial<TarStream.Header> & { name: string }, content?: Buffer | string): Promise<void> {
  if (content === undefined || Buffer.isBuffer(content)) {
    await new Promise<void>((resolve, reject) => pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
    return;
  }
  const file = content;
  await new Promise<void>((resolve, reject) => {
    let written = 0;
    const sink = pack.entry(header, (err) => {
      if (err) reject(written === header.size ? err : new ToolchainError(`cannot package /${header.name}`, "it changed while being packaged"));
      else resolve();
    });
    const rs = createReadStream(file);
    rs.on("error", (err) => {
      sink.destroy(err);
      reject(err);
    });
    rs.on("data", (chunk) => {
      written += chunk.length;
      if (written > (header.size ?? 0)) {
        rs.destroy();
        const err = new ToolchainError(`cannot package /${header.name}`, "it changed while being packaged");
        sink.destroy(err);
        reject(err);
        return;
      }
      if (!sink.write(chunk)) {
        rs.pause();
        sink.once("drain", () => rs.resume());
      }
    });
    rs.on("end", () => sink.end(undefined));
  });
}

/** Writes a toolchain archive to `out` (atomically: a temporary file renamed into place). */
export async function writeToolchainArchive(spec: ToolchainSpec, runsOn: Platform[], out: string, onProgress?: PackProgress, extra: Pick<ToolchainManifest, "equivalences"> = {}): Promise<WrittenArchive> {
  const built = await buildToolchainArchive(spec, runsOn, onProgress, extra);
  const tmp = `${out}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, built.bytes);
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { id: built.id, manifest: built.manifest, unpackedBytes: built.unpackedBytes, path: out, archiveBytes: built.bytes.length };
}

/** One checked archive member. */
export interface ArchiveEntry {
  /** Member name, normalised (no "./", no trailing "/"). */
  name: string;
  /** The absolute path it has inside the toolchain ("/" + name). */
  path: string;
  type: "file" | "directory" | "symlink" | "link";
  size: number;
  /** Permission bits (setuid, setgid and sticky removed). */
  mode: number;
  /** Symlink: the link text. Hard link: the normalised name of the member it links to. */
  linkTarget?: string;
}

export interface ScannedArchive {
  manifest: ToolchainManifest;
  entries: ArchiveEntry[];
  unpackedBytes: number;
}

/** Called for each member once it has been checked; `data` (files only) must be consumed. */
export type ArchiveEntryHandler = (entry: ArchiveEntry, data: AsyncIterable<Buffer> | undefined) => Promise<void>;

/**
 * Reads a toolchain archive, checking every member before `onEntry` sees it.
 * Refused, with an error naming the member:
 *  - names that are absolute, contain `..`, `.` or empty components, or NUL;
 *  - devices, FIFOs and any type but file, directory, symlink and hard link;
 *  - a name that appears twice, or lies under a member that is not a directory;
 *  - hard links to anything but a regular file earlier in the archive;
 *  - symlinks that leave the toolchain root: a link's target is resolved the
 *    way the kernel would inside the sandbox, where the toolchain root is `/`
 *    (absolute targets start at the root, relative ones at the link's
 *    directory, other links of the archive are followed, `..` goes to the
 *    physical parent) and must never need `..` above the root — so it stays
 *    inside the root on this machine too, once absolute targets are rewritten
 *    relative to it. A target missing from the archive ends the walk
 *    (a dangling link cannot lead anywhere);
 *  - more entries, or more unpacked bytes, than the limits;
 *  - a first member that is not the manifest, or members the manifest does not list.
 */
export async function scanToolchainArchive(bytes: Buffer, label: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS, onEntry?: ArchiveEntryHandler): Promise<ScannedArchive> {
  const fail = (entry: string | undefined, reason: string): never => {
    throw new ToolchainArchiveError(label, entry, reason);
  };
  if (bytes.length > limits.maxArchiveBytes) fail(undefined, `it is ${bytes.length} bytes, over the limit of ${limits.maxArchiveBytes}`);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) fail(undefined, "not a gzip-compressed tar archive");

  const extract = (await loadTarStream()).extract();
  const gunzip = createGunzip();
  // Headers and padding cost at most a few KiB per entry: cap the decompressed stream too (gzip bombs).
  const streamCap = limits.maxUnpackedBytes + (limits.maxEntries + 8) * 4096 + MANIFEST_MAX_BYTES;
  let streamed = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      streamed += chunk.length;
      if (streamed > streamCap) cb(new ToolchainArchiveError(label, undefined, `it decompresses to more than ${streamCap} bytes`));
      else cb(null, chunk);
    },
  });
  const source = Readable.from([bytes]);
  for (const s of [source, gunzip, cap]) s.on("error", (err: Error) => extract.destroy(err));
  source.pipe(gunzip).pipe(cap).pipe(extract as unknown as NodeJS.WritableStream);

  const seen = new Map<string, ArchiveEntry["type"] | "implicit-directory">();
  const entries: ArchiveEntry[] = [];
  let manifest: ToolchainManifest | undefined;
  let unpacked = 0;
  let count = 0;
  let handlerError: unknown;
  try {
    for await (const member of extract) {
      const h = member.header;
      const rawName = h.name;
      count++;
      if (count > limits.maxEntries + 1) fail(rawName, `the archive has more than ${limits.maxEntries} entries`);
      if (!manifest) {
        if (rawName !== MANIFEST_NAME || h.type !== "file") fail(rawName, `the first entry must be ${MANIFEST_NAME}: this is not a Reprise toolchain archive`);
        if ((h.size ?? 0) > MANIFEST_MAX_BYTES) fail(rawName, "the manifest is too large");
        manifest = parseManifest(await collect(member as AsyncIterable<Buffer>), (reason) => fail(MANIFEST_NAME, reason));
        continue;
      }
      const entry = checkMember(h, seen, entries, fail);
      if (entry === undefined) {
        member.resume();
        continue;
      }
      if (entry.type === "file") {
        unpacked += entry.size;
        if (unpacked > limits.maxUnpackedBytes) fail(rawName, `the archive unpacks to more than the limit of ${limits.maxUnpackedBytes} bytes`);
      }
      seen.set(entry.name, entry.type);
      for (const dir of ancestorNames(entry.name)) if (!seen.has(dir)) seen.set(dir, "implicit-directory");
      entries.push(entry);
      if (onEntry) {
        try {
          await onEntry(entry, entry.type === "file" ? (member as AsyncIterable<Buffer>) : undefined);
        } catch (err) {
          // The handler's own failure (a full disk, ...) is not the archive's fault: passed on as it is.
          handlerError = err;
          throw err;
        }
      } else member.resume();
    }
  } catch (err) {
    if (err === handlerError || err instanceof ToolchainArchiveError || err instanceof ToolchainError) throw err;
    fail(undefined, `unreadable: ${(err as Error).message}`);
  } finally {
    source.unpipe();
    for (const s of [gunzip, cap]) s.destroy();
  }
  if (!manifest) fail(undefined, "it is empty");
  checkSymlinks(entries, seen, fail);
  checkAgainstManifest(manifest!, entries, fail);
  return { manifest: manifest!, entries, unpackedBytes: unpacked };
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

function parseManifest(data: Buffer, fail: (reason: string) => never): ToolchainManifest {
  let m: unknown;
  try {
    m = JSON.parse(data.toString("utf8"));
  } catch {
    return fail("the manifest is not JSON");
  }
  const o = m as Partial<ToolchainManifest>;
  if (!o || typeof o !== "object" || o.formatVersion !== 1) return fail("unknown manifest format (expected formatVersion 1)");
  for (const k of ["family", "version", "compilerPath", "identity"] as const) if (typeof o[k] !== "string") fail(`the manifest has no ${k}`);
  if (!Array.isArray(o.files) || !Array.isArray(o.runsOn)) fail("the manifest has no files or runsOn list");
  return o as ToolchainManifest;
}

/** Validates one member's name, type and links; undefined for the "./" member, which is skipped. */
function checkMember(
  h: TarStream.Header,
  seen: Map<string, ArchiveEntry["type"] | "implicit-directory">,
  entries: ArchiveEntry[],
  fail: (entry: string | undefined, reason: string) => never,
): ArchiveEntry | undefined {
  const raw = h.name;
  const type = h.type ?? "file";
  if (raw.includes("\0")) fail(raw, "its name contains a NUL byte");
  if (raw.startsWith("/")) fail(raw, "absolute paths are not allowed (names are relative to the toolchain root)");
  let name = raw;
  while (name.startsWith("./")) name = name.slice(2);
  if (name.endsWith("/")) {
    if (type !== "directory") fail(raw, "only directories may end with '/'");
    name = name.slice(0, -1);
  }
  if (name === "" || name === ".") {
    if (type === "directory") return undefined;
    fail(raw, "it names the toolchain root itself");
  }
  const parts = name.split("/");
  if (parts.includes("..")) fail(raw, "'..' would leave the toolchain root");
  if (parts.some((p) => p === "" || p === ".")) fail(raw, "the name is not normalised (empty or '.' components)");
  if (name === MANIFEST_NAME) fail(raw, "the manifest appears twice");

  if (type === "character-device" || type === "block-device") fail(raw, `device files are not allowed (${type})`);
  if (type === "fifo") fail(raw, "FIFOs are not allowed");
  if (type !== "file" && type !== "directory" && type !== "symlink" && type !== "link") fail(raw, `unsupported entry type ${type}`);

  const prev = seen.get(name);
  if (prev && !(prev === "implicit-directory" && type === "directory")) fail(raw, "it appears twice in the archive");
  for (const dir of ancestorNames(name)) {
    const t = seen.get(dir);
    if (t === "symlink") fail(raw, `its parent ${dir} is a symlink (nothing may be written through a link)`);
    if (t === "file" || t === "link") fail(raw, `its parent ${dir} is not a directory`);
  }
  const mode = (h.mode ?? 0o644) & 0o777;
  const entry: ArchiveEntry = { name, path: `/${name}`, type, size: type === "file" ? (h.size ?? 0) : 0, mode };
  if (type === "symlink") {
    const target = h.linkname ?? "";
    if (!target) fail(raw, "symlink without a target");
    if (target.includes("\0")) fail(raw, "its link target contains a NUL byte");
    // Lexical check first (the full check, following other links, runs once every member is known).
    let depth = target.startsWith("/") ? 0 : parts.length - 1;
    for (const c of pathComponents(target)) {
      depth += c === ".." ? -1 : 1;
      if (depth < 0) fail(raw, `symlink to ${target} leaves the toolchain root`);
    }
    entry.linkTarget = target;
  } else if (type === "link") {
    let target = h.linkname ?? "";
    if (target.startsWith("/")) fail(raw, `hard link to an absolute path (${target})`);
    while (target.startsWith("./")) target = target.slice(2);
    if (target.split("/").includes("..")) fail(raw, `hard link to ${target} leaves the toolchain root`);
    const t = seen.get(target);
    if (t !== "file") fail(raw, `hard link to ${target}, which is not a regular file earlier in the archive`);
    entry.linkTarget = target;
    entry.size = entries.find((e) => e.name === target)?.size ?? 0;
  }
  return entry;
}

/** The names of the directories above a member name ("a/b/c" → ["a", "a/b"]). */
function ancestorNames(name: string): string[] {
  const parts = name.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

/** Resolves every symlink inside the archive's own tree; refuses one that climbs above the root or loops. */
function checkSymlinks(entries: ArchiveEntry[], seen: Map<string, ArchiveEntry["type"] | "implicit-directory">, fail: (entry: string | undefined, reason: string) => never): void {
  const links = new Map(entries.filter((e) => e.type === "symlink").map((e) => [e.name, e.linkTarget!]));
  for (const [name, target] of links) {
    const current = name.split("/").slice(0, -1);
    let pending = pathComponents(target);
    if (target.startsWith("/")) current.length = 0;
    let hops = 0;
    while (pending.length) {
      const c = pending.shift()!;
      if (c === "..") {
        if (current.length === 0) fail(name, `symlink to ${target} leaves the toolchain root (through '..' at its top)`);
        current.pop();
        continue;
      }
      const candidate = [...current, c].join("/");
      const t = seen.get(candidate);
      if (t === undefined) break; // dangling: the walk ends here
      if (t === "symlink") {
        if (++hops > MAX_SYMLINK_HOPS) fail(name, `symlink to ${target}: too many levels of symbolic links`);
        const next = links.get(candidate)!;
        if (next.startsWith("/")) current.length = 0;
        pending = [...pathComponents(next), ...pending];
        continue;
      }
      if (t === "file" || t === "link") break; // a file: nothing below it
      current.push(c);
    }
  }
}

function checkAgainstManifest(manifest: ToolchainManifest, entries: ArchiveEntry[], fail: (entry: string | undefined, reason: string) => never): void {
  const listed = new Map<string, ToolchainManifest["files"][number]>();
  for (const f of manifest.files) listed.set(typeof f.path === "string" ? f.path.replace(/^\/+/, "") : "", f);
  for (const e of entries) {
    const f = listed.get(e.name);
    if (!f) fail(e.name, "the manifest does not list it");
    const type = e.type === "link" ? "file" : e.type;
    if (f!.type !== type) fail(e.name, `the manifest says ${f!.type}, the archive has a ${e.type}`);
    if (type === "file" && f!.size !== e.size) fail(e.name, `the manifest says ${f!.size} bytes, the archive has ${e.size}`);
    listed.delete(e.name);
  }
  const left = [...listed.keys()][0];
  if (left !== undefined) fail(left, "the manifest lists it but the archive does not contain it");
}

export interface InspectedArchive extends ScannedArchive {
  id: string;
  archiveBytes: number;
}

/** Reads and checks an archive file without unpacking it. */
export async function inspectToolchainArchive(path: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<InspectedArchive> {
  const bytes = await readArchiveFile(path, limits);
  const scanned = await scanToolchainArchive(bytes, path, limits);
  return { ...scanned, id: hashBytes(bytes), archiveBytes: bytes.length };
}

/** Reads an archive file, refusing one over the size limit before reading it. */
export async function readArchiveFile(path: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<Buffer> {
  const st = await stat(path);
  if (!st.isFile()) throw new ToolchainArchiveError(path, undefined, "not a regular file");
  if (st.size > limits.maxArchiveBytes) throw new ToolchainArchiveError(path, undefined, `it is ${st.size} bytes, over the limit of ${limits.maxArchiveBytes}`);
  return readFile(path);
}

import { lstat, open, readdir, readlink } from "node:fs/promises";
import { posix } from "node:path";

/**
 * A tar stream of a directory tree, for `docker import` / `podman import`:
 * entries sorted byte-wise, owners 0:0 without names, times 0, directories
 * 0755, files and links with their own permission bits (never setuid,
 * setgid or sticky), hard links kept as links. Names and link texts too long
 * for the ustar header go in a PAX extended header. Only directories,
 * regular files and symlinks are taken; anything else is an error (a
 * toolchain store never holds one). `emptyDirs` are top-level directories
 * given a mode of their own, added if the tree lacks them (a container
 * image's `tmp`, 1777: runc gives a tmpfs mounted there the mode of the
 * directory it covers).
 *
 * Written here rather than by running `tar` so that no particular tar
 * (GNU's `--sort`, `--owner`) is needed on the host.
 */
export async function* treeTar(root: string, opts: { emptyDirs?: Record<string, number>; links?: Record<string, string> } = {}): AsyncGenerator<Buffer> {
  const seen = new Map<string, string>();
  const extra = opts.emptyDirs ?? {};
  // Symlinks added to the tree (relative path -> link text) where it has nothing, with their missing parent directories.
  const links = opts.links ?? {};
  const linkDirs = new Set(Object.keys(links).flatMap((l) => l.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/"))));
  const added = (rel: string) => [...Object.keys(links), ...linkDirs].filter((p) => posix.dirname(p) === (rel || ".")).map((p) => posix.basename(p));
  for await (const rel of walk(root, "", [...Object.keys(extra), ...added("")], added)) {
    const host = posix.join(root, rel);
    const virtual = rel in links || linkDirs.has(rel);
    const st = rel in extra || virtual ? await lstat(host).catch(() => null) : await lstat(host);
    if (!st && rel in links) {
      yield* header({ name: rel, type: "2", mode: 0o777, size: 0, linkname: links[rel]! });
    } else if (!st && linkDirs.has(rel)) {
      yield* header({ name: `${rel}/`, type: "5", mode: 0o755, size: 0 });
    } else if (!st || (rel in extra && st.isDirectory())) {
      yield* header({ name: `${rel}/`, type: "5", mode: extra[rel]!, size: 0 });
    } else if (st.isDirectory()) {
      yield* header({ name: `${rel}/`, type: "5", mode: 0o755, size: 0 });
    } else if (st.isSymbolicLink()) {
      yield* header({ name: rel, type: "2", mode: 0o777, size: 0, linkname: await readlink(host) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? seen.get(key) : undefined;
      if (first !== undefined) {
        yield* header({ name: rel, type: "1", mode: st.mode & 0o777, size: 0, linkname: first });
        continue;
      }
      if (st.nlink > 1) seen.set(key, rel);
      yield* header({ name: rel, type: "0", mode: st.mode & 0o777, size: st.size });
      yield* fileContents(host, st.size);
    } else {
      throw new Error(`${host}: not a file, directory or symlink; cannot go into a container image`);
    }
  }
  // end of archive: two zero blocks
  yield Buffer.alloc(1024);
}

/** Relative paths below `root`, parents before children, siblings sorted byte-wise; `add` are names listed even if absent (`addBelow` for deeper directories). */
async function* walk(root: string, rel: string, add: string[] = [], addBelow: (rel: string) => string[] = () => []): AsyncGenerator<string> {
  const found = await readdir(rel ? posix.join(root, rel) : root).catch(() => [] as string[]);
  const names = [...new Set([...found, ...add])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const child = rel ? `${rel}/${name}` : name;
    yield child;
    const st = await lstat(posix.join(root, child)).catch(() => null);
    const below = addBelow(child);
    if (st?.isDirectory() || (!st && below.length)) yield* walk(root, child, below, addBelow);
  }
}

async function* fileContents(path: string, size: number): AsyncGenerator<Buffer> {
  const fh = await open(path, "r");
  try {
    let done = 0;
    while (done < size) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - done));
      const { bytesRead } = await fh.read(buf, 0, buf.length, done);
      if (bytesRead === 0) throw new Error(`${path} became shorter while it was read`);
      done += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
  const pad = (512 - (size % 512)) % 512;
  if (pad) yield Buffer.alloc(pad);
}

interface Entry {
  name: string;
  type: "0" | "1" | "2" | "5";
  mode: number;
  size: number;
  linkname?: string;
}

const MAX_OCTAL_SIZE = 0o77777777777;

function* header(e: Entry): Generator<Buffer> {
  const name = Buffer.from(e.name);
  const link = Buffer.from(e.linkname ?? "");
  const pax: [string, string][] = [];
  let fields: { name: Buffer; prefix: Buffer };
  const split = splitName(name);
  if (split) fields = split;
  else {
    pax.push(["path", e.name]);
    fields = { name: name.subarray(0, 100), prefix: Buffer.alloc(0) };
  }
  if (link.length > 100) pax.push(["linkpath", e.linkname!]);
  if (e.size > MAX_OCTAL_SIZE) pax.push(["size", String(e.size)]);
  if (pax.length) {
    const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(""));
    yield block({ name: Buffer.from("PaxHeader"), prefix: Buffer.alloc(0), type: "x", mode: 0o644, size: body.length, link: Buffer.alloc(0) });
    yield body;
    const pad = (512 - (body.length % 512)) % 512;
    if (pad) yield Buffer.alloc(pad);
  }
  yield block({ ...fields, type: e.type, mode: e.mode, size: e.size > MAX_OCTAL_SIZE ? 0 : e.size, link: link.length > 100 ? link.subarray(0, 100) : link });
}

/** ustar's name (100 bytes) and prefix (155 bytes), split at a slash, or null if the name does not fit. */
function splitName(name: Buffer): { name: Buffer; prefix: Buffer } | null {
  if (name.length <= 100) return { name, prefix: Buffer.alloc(0) };
  if (name.length > 256) return null;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== 0x2f) continue;
    const prefix = name.subarray(0, i);
    const rest = name.subarray(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return { name: rest, prefix };
    if (rest.length > 100) return null;
  }
  return null;
}

/** `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

function block(h: { name: Buffer; prefix: Buffer; type: string; mode: number; size: number; link: Buffer }): Buffer {
  const b = Buffer.alloc(512);
  h.name.copy(b, 0);
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, 0);
  b.write(h.type, 156, "latin1");
  h.link.copy(b, 157);
  b.write("ustar\u000000", 257, "latin1");
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  h.prefix.copy(b, 345);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, "0") + "\u0000 ", 148, "latin1");
  return b;
}

function octal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(value.toString(8).padStart(width - 1, "0") + "\u0000", offset, "latin1");
}

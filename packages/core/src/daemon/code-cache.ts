import { createHash } from "node:crypto";
import { isAscii } from "node:buffer";
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { crc32 } from "node:zlib";
import { checkPrivateDir } from "../util/private-dir.js";

/**
 * A CommonJS script compiled with a V8 code cache: V8 takes the compiled
 * functions from the cache instead of parsing and compiling them again (Node
 * 20 keeps no such cache for ES modules, and `module.enableCompileCache` is
 * Node 22's). The cache lives in `cacheDir` (the daemon's private runtime
 * directory: cached code is run unchecked, so only a directory nobody else
 * can write may hold it), named by a digest of the script's text and Node's
 * version, so a rebuilt script never meets another's cache. A cache that
 * fails its own CRC is not used; one V8 rejects (another V8, other flags) is
 * replaced by `save`.
 */
export interface CachedScript<T> {
  /** What the script put in `module.exports`. */
  readonly exports: T;
  /** "accepted": compiled from the cache; "absent": there was none to use (or no private directory); "rejected": V8 or its CRC refused it. */
  readonly cache: "accepted" | "absent" | "rejected";
  /**
   * Writes the cache of what V8 has compiled of the script so far (call it
   * once the script's common paths have run) unless the one used was
   * accepted. Never throws: a cache is only ever a saving.
   */
  save(): void;
}

/**
 * What the script calls for import() (scripts/bundle.mjs renames its calls):
 * a script has no import() of its own unless given a loader, and the one
 * Node 20 offers (vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER) prints an
 * experimental warning and is lost with a code cache (V8 keeps no host
 * options in it: "A dynamic import callback was not specified"). So import()
 * runs here, in an ES module. Its specifiers are absolute URLs or package
 * names, which resolve alike from here.
 */
export const IMPORT_PARAMETER = "__repriseImport";

function importModule(specifier: string): Promise<unknown> {
  return import(specifier);
}

const PREFIX = "code-cache-";
const MAGIC = 0x5250_5263; // "RPRc"
const HEADER_BYTES = 12;

/** Loads `file` as CommonJS (exports, require, module, __filename, __dirname), with the code cache kept in `cacheDir` when that is a private directory. */
export function loadCachedScript<T>(file: string, cacheDir: string | undefined): CachedScript<T> {
  const bytes = readFileSync(file);
  // esbuild writes ASCII (it escapes the rest): no UTF-8 decoding of ~1.7 MB then, and V8 keeps one byte a character.
  const source = isAscii(bytes) ? bytes.toString("latin1") : bytes.toString("utf8");
  const cachePath = cacheDir === undefined ? undefined : join(cacheDir, `${PREFIX}${cacheName(bytes)}.v8`);
  const usable = cachePath !== undefined && checkPrivateDir(cacheDir!).kind === "ok";
  const found = usable ? readCache(cachePath) : undefined;
  const cachedData = found === "corrupt" ? undefined : found;
  const script = new Script(`(function (exports, require, module, __filename, __dirname, ${IMPORT_PARAMETER}) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const cache = found === "corrupt" || script.cachedDataRejected ? "rejected" : cachedData ? "accepted" : "absent";
  const module = { exports: {} as T };
  const wrapper = script.runInThisContext() as (exports: T, require: NodeJS.Require, module: { exports: T }, filename: string, dirname: string, importModule: (specifier: string) => Promise<unknown>) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file), importModule);
  let saved = cache === "accepted";
  return {
    exports: module.exports,
    cache,
    save() {
      if (saved || cachePath === undefined) return;
      saved = true;
      try {
        if (checkPrivateDir(cacheDir!).kind !== "ok") return;
        writeCache(cachePath, script.createCachedData());
      } catch {
        // A full disk or a vanished directory: the next start compiles as before.
      }
    },
  };
}

/** The cache's name: the script's text and what else decides the compiled code (V8's version comes with Node's). */
function cacheName(source: Buffer): string {
  return createHash("sha256").update(`${process.version}\0${process.arch}\0`).update(source).digest("hex").slice(0, 32);
}

/** The cached data in `path` when its header's length and CRC hold (V8 checks the rest: its version, flags and the source's length); undefined when there is none. */
function readCache(path: string): Buffer | "corrupt" | undefined {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch {
    return undefined;
  }
  if (file.length < HEADER_BYTES || file.readUInt32BE(0) !== MAGIC || file.readUInt32BE(4) !== file.length - HEADER_BYTES) return "corrupt";
  const data = file.subarray(HEADER_BYTES);
  return crc32(data) === file.readUInt32BE(8) ? data : "corrupt";
}

/** Writes `data` under its header by a rename (a reader never sees half a cache), and removes the caches of other scripts. */
function writeCache(path: string, data: Buffer): void {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt32BE(data.length, 4);
  header.writeUInt32BE(crc32(data), 8);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([header, data]), { mode: 0o600, flag: "wx" });
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  const dir = dirname(path);
  const name = path.slice(dir.length + 1);
  for (const old of readdirSync(dir)) if (old.startsWith(PREFIX) && old !== name && !old.endsWith(".tmp")) rmSync(join(dir, old), { force: true });
}

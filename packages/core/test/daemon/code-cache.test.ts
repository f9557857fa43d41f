import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadCachedScript } from "../../src/daemon/code-cache.js";

/**
 * The daemon's script through a V8 code cache (real V8, real files): a cache
 * is used only when it is this very script's, V8's and its own CRC's, and
 * the script runs the same whatever became of its cache.
 */
let root: string;
let cacheDir: string;
let script: string;

interface Exports {
  add(a: number, b: number): number;
  loadJson(url: string): Promise<{ default: unknown }>;
}

const SOURCE = `
exports.add = function add(a, b) { return a + b; };
exports.loadJson = (url) => __repriseImport(url);
`;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "reprise-code-cache-"));
  cacheDir = join(root, "run");
  script = join(root, "script.cjs");
  writeFileSync(script, SOURCE);
  writeFileSync(join(root, "data.mjs"), "export default 42;\n");
  mkdirSync(cacheDir, { mode: 0o700 });
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

const caches = () => readdirSync(cacheDir).filter((f) => f.startsWith("code-cache-"));

/** Runs the script's functions, so the cache has them compiled. */
async function use(loaded: { exports: Exports }): Promise<void> {
  expect(loaded.exports.add(2, 3)).toBe(5);
  expect((await loaded.exports.loadJson(pathToFileURL(join(root, "data.mjs")).href)).default).toBe(42);
}

describe("the daemon script's code cache", () => {
  it("is written once by save, private, then accepted by the next load, whose import() still works", async () => {
    const first = loadCachedScript<Exports>(script, cacheDir);
    expect(first.cache).toBe("absent");
    await use(first);
    first.save();
    expect(caches()).toHaveLength(1);
    expect(statSync(join(cacheDir, caches()[0]!)).mode & 0o777).toBe(0o600);

    const second = loadCachedScript<Exports>(script, cacheDir);
    expect(second.cache).toBe("accepted");
    await use(second);
  });

  it("is never another script's: an edit of the same length finds none, and its save removes the old one", async () => {
    const first = loadCachedScript<Exports>(script, cacheDir);
    first.save();
    const old = caches();
    writeFileSync(script, SOURCE.replace("a + b", "b + a"));
    const edited = loadCachedScript<Exports>(script, cacheDir);
    expect(edited.cache).toBe("absent");
    await use(edited);
    edited.save();
    expect(caches()).toHaveLength(1);
    expect(caches()).not.toEqual(old);
  });

  it("a damaged cache is refused, the script runs all the same, and save replaces it", async () => {
    loadCachedScript<Exports>(script, cacheDir).save();
    const file = join(cacheDir, caches()[0]!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 7]! ^= 0x5a;
    writeFileSync(file, bytes);
    const damaged = loadCachedScript<Exports>(script, cacheDir);
    expect(damaged.cache).toBe("rejected");
    await use(damaged);
    damaged.save();
    expect(loadCachedScript<Exports>(script, cacheDir).cache).toBe("accepted");

    writeFileSync(file, bytes.subarray(0, 20));
    expect(loadCachedScript<Exports>(script, cacheDir).cache).toBe("rejected");
  });

  it("neither reads nor writes one in a directory others can write", async () => {
    loadCachedScript<Exports>(script, cacheDir).save();
    chmodSync(cacheDir, 0o777);
    const open = loadCachedScript<Exports>(script, cacheDir);
    expect(open.cache).toBe("absent");
    await use(open);
    rmSync(join(cacheDir, caches()[0]!));
    open.save();
    expect(caches()).toEqual([]);
  });
});

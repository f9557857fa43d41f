import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import fg from "fast-glob";
import type { CacheStorage, StorageSettings } from "../../packages/core/src/storage/cache-storage.js";
import { RedisStorage } from "../../packages/storage-redis/src/redis-storage.js";
import { MemcachedStorage } from "../../packages/storage-memcached/src/memcached-storage.js";
import { WebdavStorage } from "../../packages/storage-webdav/src/webdav-storage.js";
import { S3Storage } from "../../packages/storage-s3/src/s3-storage.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { S3RVER_CREDENTIALS, startMemcached, startNginxDav, startRedis, startS3, type RunningServer } from "../support/remote-servers.js";
import { buildAndCompare, levelsOf, plainObjects, writeProject } from "../support/remote-levels.js";

/**
 * Two "machines" (two daemons, each with its own cache dir and runtime dir,
 * building the same checkout path) sharing one remote level on a real server.
 */
interface Backend {
  name: string;
  start(): Promise<RunningServer & { dir?: string; root?: string }>;
  env(server: RunningServer): Record<string, string>;
  /** Variable that makes the level read-only. */
  rwMode: string;
  /** The backend itself, as a third party would use it, to tamper with what is stored. */
  open(options: Record<string, string>): CacheStorage;
}

const BUCKET = "reprise-cache";

const backends: Backend[] = [
  {
    name: "redis",
    start: startRedis,
    env: (s) => ({ REPRISE_REDIS_ENDPOINT: s.endpoint, REPRISE_REDIS_KEY_PREFIX: "team/" }),
    rwMode: "REPRISE_REDIS_RW_MODE",
    open: (options) => new RedisStorage(settingsFor("redis", options)),
  },
  {
    name: "memcached",
    start: () => startMemcached(),
    env: (s) => ({ REPRISE_MEMCACHED_ENDPOINT: s.endpoint, REPRISE_MEMCACHED_KEY_PREFIX: "team/" }),
    rwMode: "REPRISE_MEMCACHED_RW_MODE",
    open: (options) => new MemcachedStorage(settingsFor("memcached", options)),
  },
  {
    name: "webdav (nginx)",
    start: startNginxDav,
    env: (s) => ({ REPRISE_WEBDAV_ENDPOINT: s.endpoint, REPRISE_WEBDAV_KEY_PREFIX: "team/" }),
    rwMode: "REPRISE_WEBDAV_RW_MODE",
    open: (options) => new WebdavStorage(settingsFor("webdav", options)),
  },
  {
    name: "s3 (s3rver)",
    start: () => startS3(BUCKET),
    env: (s) => ({ REPRISE_BUCKET: BUCKET, REPRISE_ENDPOINT: s.endpoint, REPRISE_S3_KEY_PREFIX: "team/", REPRISE_S3_USE_SSL: "false", ...S3RVER_CREDENTIALS }),
    rwMode: "REPRISE_S3_RW_MODE",
    open: (options) => {
      // The SDK's credential chain of this process: s3rver's fixed keys.
      Object.assign(process.env, S3RVER_CREDENTIALS);
      return new S3Storage(settingsFor("s3", options));
    },
  },
];

const UNITS = 4;

function settingsFor(kind: string, options: Record<string, string>): StorageSettings {
  return { kind, dir: "", maxSizeBytes: 0, options };
}

/** Remote options as the daemon derives them from the backend's variables. */
function optionsFromEnv(env: Record<string, string>): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.endsWith("_ENDPOINT") && k !== "REPRISE_ENDPOINT") o.endpoint = v;
    else if (k.endsWith("KEY_PREFIX")) o.keyPrefix = v;
    else if (k === "REPRISE_BUCKET") o.bucket = v;
    else if (k === "REPRISE_ENDPOINT") o.endpoint = v;
    else if (k === "REPRISE_S3_USE_SSL") o.useSsl = v;
  }
  return o;
}

/** Overwrites, in the remote, every result `machine` stored with a blob of the right magic but truncated. */
async function corruptRemoteResults(backend: Backend, server: RunningServer, machine: RepriseSandbox): Promise<number> {
  const keys = (await fg("results/*/*", { cwd: machine.cacheDir })).map((p) => basename(p));
  const storage = backend.open(optionsFromEnv(backend.env(server)));
  try {
    for (const key of keys) await storage.write("result", key, Buffer.from("RPRe\0\0\0\u0001truncated"));
  } finally {
    await storage.close();
  }
  return keys.length;
}

describe.each(backends)("$name level", (backend) => {
  let server: RunningServer & { dir?: string; root?: string };
  let root: RepriseSandbox;
  let work: string;
  const machines: RepriseSandbox[] = [];
  const machine = (more: Record<string, string> = {}) => {
    const m = new RepriseSandbox({ ...backend.env(server), ...more });
    machines.push(m);
    return m;
  };

  beforeAll(async () => {
    server = await backend.start();
    root = new RepriseSandbox();
    work = join(root.root, "checkout");
    mkdirSync(work, { recursive: true });
  });

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.dispose()));
    await root.dispose();
    await server.stop();
  });

  it("a second machine hits everything the first compiled, byte-identical to plain compiles", async () => {
    const units = writeProject(work, UNITS, "share");
    const reference = await plainObjects(work, units);
    const ci = machine();
    await buildAndCompare(ci, work, units, reference);
    const ciLevels = await levelsOf(ci, work);
    expect(ciLevels.map((l) => l.kind)).toEqual(["local", backend.name.split(" ")[0]]);
    expect(ciLevels[1]!.state).toBe("closed");
    // Each miss stores a result and a manifest in both levels.
    expect(ciLevels[1]!.writes).toBe(2 * UNITS);
    expect(ciLevels[1]!.errors).toBe(0);

    const laptop = machine();
    await buildAndCompare(laptop, work, units, reference);
    const stats = await laptop.stats(work);
    expect(stats.misses).toBe(0);
    expect(stats.hitsDirect).toBe(UNITS);
    const levels = await levelsOf(laptop, work);
    expect(levels[1]!.hits, "manifest and result of each unit came from the remote level").toBe(2 * UNITS);
    expect(levels[0]!.writeBacks, "and were copied to the local disk").toBe(2 * UNITS);
    expect(levels[1]!.latencyMedianMs).not.toBeNull();
    expect(levels[1]!.bytesRead).toBeGreaterThan(0);

    // Served from the local disk now: the remote level is not asked again.
    await buildAndCompare(laptop, work, units, reference);
    const again = await levelsOf(laptop, work);
    expect(again[1]!.hits).toBe(2 * UNITS);
  });

  it("a read-only level is read but never written; the local level still is", async () => {
    const units = writeProject(work, 2, "ro");
    const reference = await plainObjects(work, units);
    const ro = { [backend.rwMode]: "READ_ONLY" };
    const laptop = machine(ro);
    await buildAndCompare(laptop, work, units, reference);
    await laptop.idleCopiesMade(work);
    const levels = await levelsOf(laptop, work);
    expect(levels[1]!.readOnly).toBe(true);
    expect(levels[1]!.writes).toBe(0);
    // A result, a manifest and the direct-mode fallback's copy of the result (first level only) per unit.
    expect(levels[0]!.writes).toBe(3 * units.length);
    // Nothing reached the server: another machine misses.
    const other = machine(ro);
    await buildAndCompare(other, work, units, reference);
    expect((await other.stats(work)).misses).toBe(units.length);
    // A read-write machine fills it; then a read-only one hits and copies down only.
    const writer = machine();
    await buildAndCompare(writer, work, units, reference);
    await writer.stats(work);
    const reader = machine(ro);
    await buildAndCompare(reader, work, units, reference);
    expect((await reader.stats(work)).misses).toBe(0);
    const readerLevels = await levelsOf(reader, work);
    expect(readerLevels[1]!.hits).toBe(2 * units.length);
    expect(readerLevels[1]!.writes + readerLevels[1]!.writeBacks).toBe(0);
  });

  it("recache ignores hits, compiles and overwrites every writable level", async () => {
    const units = writeProject(work, 2, "rc");
    const reference = await plainObjects(work, units);
    const first = machine();
    await buildAndCompare(first, work, units, reference);
    await first.stats(work);
    const recache = { REPRISE_RECACHE: "1" };
    await buildAndCompare(first, work, units, reference, recache);
    const stats = await first.stats(work);
    expect(stats.misses).toBe(2 * units.length);
    expect(stats.hitsDirect).toBe(0);
    const levels = await levelsOf(first, work, recache);
    // Counted since the daemon started: the first build's stores, then the recache's.
    expect(levels[1]!.writes, "results and manifests stored again").toBe(2 * 2 * units.length);
  });

  it("a machine whose own manifest is stale hits what another machine recorded after a header change", async () => {
    const units = writeProject(work, 1, "hdr");
    const header = join(work, "include/shared.h");
    const v1 = readFileSync(header, "utf8");
    const laptop = machine();
    await buildAndCompare(laptop, work, units, await plainObjects(work, units));
    await laptop.stats(work);
    // Later: the header changes; CI compiles first and records the new include set.
    await new Promise((r) => setTimeout(r, 1100));
    writeFileSync(header, `${v1}static inline int thrice(int x) { return 3 * x; }\n`);
    const reference = await plainObjects(work, units);
    const ci = machine();
    await buildAndCompare(ci, work, units, reference);
    await ci.stats(work);
    // The laptop's manifest knows only the old header: the remote one has the match.
    await buildAndCompare(laptop, work, units, reference);
    const stats = await laptop.stats(work);
    expect(stats.misses, "only the first build missed").toBe(1);
    expect(stats.hitsDirect).toBe(1);
    writeFileSync(header, v1);
  });

  it("a truncated object in the remote is a miss, never a wrong object", async () => {
    const units = writeProject(work, 2, "bad");
    const reference = await plainObjects(work, units);
    const ci = machine();
    await buildAndCompare(ci, work, units, reference);
    await ci.idleCopiesMade(work);
    // Each unit's result and its copy under the preprocessed text's key (kept in the local level only).
    expect(await corruptRemoteResults(backend, server, ci)).toBe(2 * units.length);
    const laptop = machine();
    await buildAndCompare(laptop, work, units, reference);
    const stats = await laptop.stats(work);
    expect(stats.misses).toBe(units.length);
    const levels = await levelsOf(laptop, work);
    // The fallback's copy is looked for in the first level only: the truncated ones under its key are never read.
    expect(levels[1]!.corrupt).toBe(units.length);
    expect(levels[0]!.writeBacks, "only the manifests travelled up").toBe(units.length);
  });
});

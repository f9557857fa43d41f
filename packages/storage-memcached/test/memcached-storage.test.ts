import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobTooLargeError } from "@reprise/core";
import { MemcachedStorage } from "../src/memcached-storage.js";
import { startMemcached, type RunningServer } from "../../../test/support/remote-servers.js";

const KEY = "ef".repeat(32);
let server: RunningServer;
const open: MemcachedStorage[] = [];

function storage(options: Record<string, unknown>): MemcachedStorage {
  const s = new MemcachedStorage({ kind: "memcached", dir: "", maxSizeBytes: 0, options: { endpoint: `tcp://${server.endpoint}`, ...options }, timeouts: { connectMs: 500, requestMs: 2000 } });
  open.push(s);
  return s;
}

beforeAll(async () => {
  server = await startMemcached("2m");
});

afterAll(async () => {
  for (const s of open) s.close();
  await server.stop();
});

describe("MemcachedStorage against memcached", () => {
  it("stores, reads and removes blobs; prefixes keep caches apart", async () => {
    const a = storage({ keyPrefix: "a/" });
    const b = storage({ keyPrefix: "b/" });
    await a.write("result", KEY, Buffer.from("from a"));
    expect((await a.read("result", KEY))?.toString()).toBe("from a");
    expect(await b.read("result", KEY)).toBeUndefined();
    await a.remove("result", KEY);
    expect(await a.read("result", KEY)).toBeUndefined();
  });

  it("a blob over the item size limit is refused before sending, with its size and the limit", async () => {
    const s = storage({ maxItemSize: "2097152" });
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const err = await s.write("result", KEY, big).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobTooLargeError);
    expect((err as BlobTooLargeError).size).toBe(big.length);
    // Just under the limit goes through: the server (-I 2m) takes it.
    const fits = Buffer.alloc(2 * 1024 * 1024 - 1024, 7);
    await s.write("result", KEY, fits);
    expect((await s.read("result", KEY))?.length).toBe(fits.length);
  });

  it("entries expire after `expiration` seconds", async () => {
    const s = storage({ keyPrefix: "exp/", expiration: "1" });
    await s.write("manifest", KEY, Buffer.from("short-lived"));
    expect(await s.read("manifest", KEY)).toBeDefined();
    await new Promise((r) => setTimeout(r, 2100));
    expect(await s.read("manifest", KEY)).toBeUndefined();
  });
});

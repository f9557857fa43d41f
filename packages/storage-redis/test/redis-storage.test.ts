import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "@reprise/core";
import { RedisStorage } from "../src/redis-storage.js";
import { startRedis, type RunningServer } from "../../../test/support/remote-servers.js";

const KEY = "cd".repeat(32);
let redis: RunningServer;
const open: RedisStorage[] = [];

function storage(options: Record<string, unknown>): RedisStorage {
  const s = new RedisStorage({ kind: "redis", dir: "", maxSizeBytes: 0, options: { endpoint: redis.endpoint, ...options }, timeouts: { connectMs: 500, requestMs: 2000 } });
  open.push(s);
  return s;
}

const cli = (...args: string[]) => execFileSync("/usr/bin/redis-cli", ["-p", String(redis.port), ...args], { encoding: "utf8" }).trim();

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const s of open) await s.close();
  await redis.stop();
});

describe("RedisStorage against redis-server", () => {
  it("stores, reads and removes blobs under its key prefix", async () => {
    const s = storage({ keyPrefix: "proj/" });
    expect(await s.read("result", KEY)).toBeUndefined();
    await s.write("result", KEY, Buffer.from([0, 1, 2, 255]));
    expect(cli("--scan", "--pattern", "proj/*")).toBe(`proj/results/${KEY}`);
    expect((await s.read("result", KEY))?.equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
    expect(await s.read("manifest", KEY)).toBeUndefined();
    await s.remove("result", KEY);
    expect(await s.read("result", KEY)).toBeUndefined();
  });

  it("sets the TTL it is given (sccache's expiration too)", async () => {
    await storage({ keyPrefix: "ttl/", ttl: "100" }).write("result", KEY, Buffer.from("a"));
    const ttl = Number(cli("TTL", `ttl/results/${KEY}`));
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    await storage({ keyPrefix: "exp/", expiration: 50 }).write("result", KEY, Buffer.from("a"));
    expect(Number(cli("TTL", `exp/results/${KEY}`))).toBeLessThanOrEqual(50);
    await storage({ keyPrefix: "none/" }).write("result", KEY, Buffer.from("a"));
    expect(cli("TTL", `none/results/${KEY}`)).toBe("-1");
  });

  it("clear removes only its own prefix", async () => {
    const mine = storage({ keyPrefix: "mine/" });
    const theirs = storage({ keyPrefix: "theirs/" });
    await mine.write("result", KEY, Buffer.from("1"));
    await mine.write("manifest", KEY, Buffer.from("2"));
    await theirs.write("result", KEY, Buffer.from("3"));
    await mine.clear();
    expect(await mine.read("result", KEY)).toBeUndefined();
    expect(await mine.read("manifest", KEY)).toBeUndefined();
    expect((await theirs.read("result", KEY))?.toString()).toBe("3");
  });

  it("refuses keys that are not cache keys, and bad options with a reason", async () => {
    await expect(storage({}).read("result", "../x")).rejects.toThrow(/invalid cache key/);
    expect(() => new RedisStorage({ kind: "redis", dir: "", maxSizeBytes: 0, options: { endpoint: redis.endpoint, ttl: "soon" } })).toThrow(ConfigError);
  });

  it("a server that is gone fails fast with a typed error", async () => {
    const dead = new RedisStorage({ kind: "redis", dir: "", maxSizeBytes: 0, options: { endpoint: "redis://127.0.0.1:1" }, timeouts: { connectMs: 300, requestMs: 1000 } });
    const t = performance.now();
    await expect(dead.read("result", KEY)).rejects.toThrow(/redis/);
    expect(performance.now() - t).toBeLessThan(1500);
    await dead.close();
  });
});

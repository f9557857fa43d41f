import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, text } from "../support/reprise-env.js";
import { startMemcached, startRedis, startSlowProxy, type RunningServer } from "../support/remote-servers.js";
import { buildAndCompare, levelsOf, plainObjects, writeProject } from "../support/remote-levels.js";

/** A remote level that dies, crawls or refuses never fails nor stalls a build. */
let work: string;
let owner: RepriseSandbox;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  owner = new RepriseSandbox();
  work = join(owner.root, "checkout");
  mkdirSync(work, { recursive: true });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await owner.dispose();
});

function machine(env: Record<string, string>): RepriseSandbox {
  const m = new RepriseSandbox(env);
  cleanups.push(() => m.dispose());
  return m;
}

async function server<T extends RunningServer>(started: Promise<T>): Promise<T> {
  const s = await started;
  cleanups.push(() => s.stop());
  return s;
}

describe("remote level failures", () => {
  it("a server killed mid-build: the build goes on, uncached remotely, objects identical", async () => {
    const redis = await server(startRedis());
    const units = writeProject(work, 8, "kill");
    const reference = await plainObjects(work, units);
    const m = machine({ REPRISE_REDIS_ENDPOINT: redis.endpoint, REPRISE_REMOTE_TIMEOUT_MS: "2000", REPRISE_REMOTE_CONNECT_TIMEOUT_MS: "500" });
    await buildAndCompare(m, work, units.slice(0, 3), reference);
    // Their stores reach the server after each call is answered: let them land, then crash it.
    await m.stats(work);
    await redis.kill();
    const started = performance.now();
    await buildAndCompare(m, work, units.slice(3), reference);
    const perCall = (performance.now() - started) / 5;
    expect(perCall, "a dead server costs at most its timeouts, not a stall").toBeLessThan(3000);
    const stats = await m.stats(work);
    expect(stats.misses).toBe(8);
    expect(Object.keys(stats.errors), "no call fell back to an uncached compile").toEqual([]);
    await m.idleCopiesMade(work);
    const levels = await levelsOf(m, work);
    expect(levels[1]!.errors).toBeGreaterThan(0);
    expect(levels[1]!.writes, "the first three were stored before the kill").toBe(6);
    expect(levels[0]!.writes, "the local level stored every one (result, manifest, fallback copy)").toBe(24);
    // The local level still serves hits.
    await buildAndCompare(m, work, units, reference);
    expect((await m.stats(work)).hitsDirect).toBe(8);
  });

  it("a slow server: requests time out, the breaker opens, the build continues at full speed", async () => {
    const redis = await server(startRedis());
    // Each direction held 4 s: any call that waited for the server would take 8 s or more.
    const proxy = await startSlowProxy(redis.port, 4000);
    cleanups.push(() => proxy.stop());
    const units = writeProject(work, 6, "slow");
    const reference = await plainObjects(work, units);
    const m = machine({
      REPRISE_REDIS_ENDPOINT: `redis://127.0.0.1:${proxy.port}`,
      REPRISE_REMOTE_TIMEOUT_MS: "300",
      REPRISE_REMOTE_CONNECT_TIMEOUT_MS: "300",
      REPRISE_REMOTE_BREAKER_COOLDOWN_MS: "60000",
    });
    await m.run(["--start-server"], work);
    const times: number[] = [];
    for (const u of units) {
      const t = performance.now();
      await buildAndCompare(m, work, [u], reference);
      times.push(performance.now() - t);
    }
    expect(Math.max(...times), `per-call times ${times.map((t) => t.toFixed(0)).join(", ")} ms never wait out the slow server`).toBeLessThan(4000);
    const levels = await levelsOf(m, work);
    expect(levels[1]!.errors).toBeGreaterThanOrEqual(3);
    expect(levels[1]!.hits).toBe(0);
    expect(levels[1]!.state, "the breaker stopped calling the slow server").toBe("open");
    expect((await m.stats(work)).misses).toBe(6);
  });

  it("a server that comes back is used again after the breaker's cooldown", async () => {
    const redis = await server(startRedis());
    const units = writeProject(work, 6, "back");
    const reference = await plainObjects(work, units);
    const env = { REPRISE_REDIS_ENDPOINT: redis.endpoint, REPRISE_REMOTE_TIMEOUT_MS: "1000", REPRISE_REMOTE_CONNECT_TIMEOUT_MS: "300", REPRISE_REMOTE_BREAKER_COOLDOWN_MS: "1500" };
    const m = machine(env);
    await redis.kill();
    await buildAndCompare(m, work, units.slice(0, 3), reference);
    const down = (await levelsOf(m, work))[1]!;
    expect(down.errors).toBeGreaterThan(0);
    // Open, or already half-open if the cooldown passed during those builds.
    expect(down.state).not.toBe("closed");
    const back = await server(startRedis(redis.port));
    await new Promise((r) => setTimeout(r, 2000));
    await buildAndCompare(m, work, units.slice(3), reference);
    const levels = await levelsOf(m, work);
    expect(levels[1]!.state).toBe("closed");
    expect(levels[1]!.writes, "the units built after the server came back were stored there").toBeGreaterThanOrEqual(2);
    // Another machine hits them through the revived server.
    const other = machine({ REPRISE_REDIS_ENDPOINT: back.endpoint });
    await buildAndCompare(other, work, units.slice(4), reference);
    expect((await other.stats(work)).hitsDirect).toBe(2);
  });

  it("memcached: an entry over the item size limit is skipped and counted, the rest shared", async () => {
    const memcached = await server(startMemcached("1m"));
    const units = writeProject(work, 2, "mc");
    // 1.5 MB of random words: its object does not compress below memcached's 1 MiB items.
    const words = Array.from({ length: 384 * 1024 }, () => `0x${randomBytes(4).toString("hex")}u`);
    writeFileSync(join(work, "mcbig.c"), `const unsigned big_table[] = {${words.join(",")}};\n`);
    units.push("mcbig.c");
    const reference = await plainObjects(work, units);
    const env = { REPRISE_MEMCACHED_ENDPOINT: memcached.endpoint };
    const ci = machine(env);
    await buildAndCompare(ci, work, units, reference);
    const levels = await levelsOf(ci, work);
    expect(levels[1]!.skippedTooLarge).toBe(1);
    expect(levels[1]!.errors).toBe(0);
    expect(levels[1]!.state).toBe("closed");
    const laptop = machine(env);
    await buildAndCompare(laptop, work, units, reference);
    const stats = await laptop.stats(work);
    expect(stats.hitsDirect).toBe(2);
    expect(stats.misses).toBe(1);
  });

  it("a level that cannot be created is shown as unavailable; the local level works", async () => {
    const units = writeProject(work, 1, "bad");
    const reference = await plainObjects(work, units);
    const m = machine({ REPRISE_WEBDAV_ENDPOINT: "ftp://nowhere" });
    await buildAndCompare(m, work, units, reference);
    await buildAndCompare(m, work, units, reference);
    const levels = await levelsOf(m, work);
    expect(levels[1]!.state).toBe("unavailable");
    expect(levels[1]!.reason).toMatch(/endpoint/);
    const table = text((await m.run(["--show-stats"], work)).stdout);
    expect(table).toMatch(/Level 1 \(webdav\)\s+unavailable: .*endpoint/);
    expect(table).toMatch(/Level 0 \(local\)/);
    expect((await m.stats(work)).hitsDirect).toBe(1);
  });
});

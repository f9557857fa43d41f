import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text, type StatsJson } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { writeFarmProject } from "../support/farm-project.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";
import { farmLogTail, farmStats as remote } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";
import { makeThroughReprise, PlainMakeReference } from "../support/make-build.js";

/**
 * A builder that answers garbage, and uploads that fail, end to end: a real
 * scheduler, one real bwrap builder reached only through a real proxy that
 * breaks what it is told to, and a client daemon sending every miss to the
 * farm. Whatever the proxy does, the build succeeds, every object and dep
 * file is byte-identical to a plain build, and what the cache then serves is
 * too: nothing from a broken answer reaches it.
 */

const FILES = 4;

let farm: LoopbackFarm;
let proxy: FaultProxy;
let sb: RepriseSandbox;
let root: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const daemonLog = () => farmLogTail(sb);

/**
 * A plain build for the reference, the build through the farm, then a clean
 * rebuild served by the cache alone (no farm): both byte-identical to the
 * reference. Returns the farm build's stats.
 */
async function buildThroughFaults(variant: string): Promise<StatsJson> {
  const dir = join(root, variant);
  const outputs = writeFarmProject(dir, FILES, variant);
  const reference = await PlainMakeReference.build(dir, outputs, 4);
  const make = (env: Record<string, string>) => makeThroughReprise(sb, dir, 4, env);

  await sb.zeroStats();
  const farmBuild = await make(farm.env());
  expect(farmBuild.exitCode, text(farmBuild.stderr)).toBe(0);
  reference.expectSame("through the farm");
  const stats = await sb.stats();

  await plain("make", ["clean"], dir);
  await sb.zeroStats();
  const fromCache = await make({});
  expect(fromCache.exitCode, text(fromCache.stderr)).toBe(0);
  reference.expectSame("from the cache");
  const cached = await sb.stats();
  expect(cached.hitsDirect + cached.hitsPreprocessor, "every object comes from the cache").toBe(FILES);
  expect(cached.misses).toBe(0);
  return stats;
}

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  farm = await LoopbackFarm.start({ dirName: "faults" });
  ({ sb, dir: root } = farm);
  proxy = await startFaultProxy();
  const port = await freePort();
  // The builder tells the scheduler the proxy's address: every client request passes through it.
  await farm.startBuilder({ id: "proxied", dataDir: join(root, "builder"), extra: { listen: { host: "127.0.0.1", port }, publicUrl: proxy.url } });
  proxy.target = new URL(`http://127.0.0.1:${port}`);
  await farm.waitForBuilders(1);
}, 180_000);

afterAll(async () => {
  await farm?.dispose();
  await proxy?.close();
});

describe("farm faults through a real proxy (scheduler, one bwrap builder behind the proxy, client daemon)", () => {
  // First, while the builder holds nothing yet: the toolchain and every input must go up, and each upload is cut off.
  it("uploads cut off mid-request: each job is tried twice, then compiled locally; counted as dist-upload-failed", async () => {
    proxy.dropUploads = true;
    try {
      const s = await buildThroughFaults("uploads");
      expect(proxy.counts.uploadsDropped, "the proxy cut uploads off").toBeGreaterThan(0);
      expect(remote(s).compiles, daemonLog()).toBe(0);
      expect(s.fallbacks, daemonLog()).toEqual({ "dist-upload-failed": FILES });
    } finally {
      proxy.dropUploads = false;
    }
  }, 300_000);

  it("a builder answering altered objects every time: retried once, then compiled locally; counted as dist-bad-result", async () => {
    proxy.corruptResults = "always";
    const before = proxy.counts.corrupted;
    try {
      const s = await buildThroughFaults("garbage");
      expect(remote(s).compiles, daemonLog()).toBe(0);
      expect(s.fallbacks, daemonLog()).toEqual({ "dist-bad-result": FILES });
      // One retry per job, no more: two altered answers each.
      expect(proxy.counts.corrupted - before).toBe(2 * FILES);
    } finally {
      proxy.corruptResults = "never";
    }
  }, 300_000);

  it("a builder answering cut-short results every time (a complete HTTP answer, a frame missing its last bytes): retried once, then local; dist-bad-result", async () => {
    proxy.corruptResults = "always";
    proxy.resultFault = "truncate";
    const before = proxy.counts.corrupted;
    try {
      const s = await buildThroughFaults("truncated");
      expect(remote(s).compiles, daemonLog()).toBe(0);
      expect(s.fallbacks, daemonLog()).toEqual({ "dist-bad-result": FILES });
      expect(proxy.counts.corrupted - before).toBe(2 * FILES);
    } finally {
      proxy.corruptResults = "never";
      proxy.resultFault = "flip";
    }
  }, 300_000);

  it("a builder answering one altered object per job: the retry's answer is used, compiled remotely, no fallback", async () => {
    proxy.corruptResults = "first-per-output";
    const before = { ...proxy.counts };
    try {
      const s = await buildThroughFaults("once");
      expect(proxy.counts.corrupted - before.corrupted).toBe(FILES);
      expect(proxy.counts.results - before.results).toBe(2 * FILES);
      expect(remote(s).compiles, daemonLog()).toBe(FILES);
      expect(s.fallbacks, daemonLog()).toEqual({});
    } finally {
      proxy.corruptResults = "never";
    }
  }, 300_000);
});

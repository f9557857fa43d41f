import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { clientCommand, plain, RepriseSandbox, text, type StatsJson } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { startBuilder, startScheduler, type FarmProcess, type SchedulerHandle } from "../support/farm-processes.js";
import { writeFarmProject } from "../support/farm-project.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";

/**
 * A builder that answers garbage, and uploads that fail, end to end: a real
 * scheduler, one real bwrap builder reached only through a real proxy that
 * breaks what it is told to, and a client daemon sending every miss to the
 * farm. Whatever the proxy does, the build succeeds, every object and dep
 * file is byte-identical to a plain build, and what the cache then serves is
 * too: nothing from a broken answer reaches it.
 */

const FILES = 4;
const launcher = clientCommand("native").join(" ");

let sched: SchedulerHandle;
let builder: FarmProcess;
let proxy: FaultProxy;
let sb: RepriseSandbox;
let root: string;

const farmEnv = (): Record<string, string> => ({ REPRISE_DIST_SCHEDULER_URL: sched.url, REPRISE_DIST_TOKEN: sched.clientToken, REPRISE_DIST_MODE: "always" });
const remote = (s: StatsJson) => s.remote?.farm ?? { compiles: 0, bytesUploaded: 0, roundTrips: 0 };

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

function daemonLog(): string {
  try {
    return readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8").split("\n").filter((l) => /WARN|ERROR|farm/.test(l)).slice(-8).join("\n");
  } catch {
    return "(no daemon log)";
  }
}

/**
 * A plain build for the reference, the build through the farm, then a clean
 * rebuild served by the cache alone (no farm): both byte-identical to the
 * reference. Returns the farm build's stats.
 */
async function buildThroughFaults(variant: string): Promise<StatsJson> {
  const dir = join(root, variant);
  const outputs = writeFarmProject(dir, FILES, variant);
  const read = () => new Map(outputs.map((o) => [o, readFileSync(join(dir, o))]));
  const ref = await plain("make", ["-j4"], dir);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  const reference = read();
  const same = (what: string) => {
    for (const [file, data] of read()) expect(data.equals(reference.get(file)!), `${file} byte-identical to the plain build (${what})`).toBe(true);
  };
  const make = (env: Record<string, string>) => plain("make", ["-j4", `CC=${launcher} gcc`, `CXX=${launcher} g++`], dir, sb.env(env));

  await plain("make", ["clean"], dir);
  await sb.zeroStats();
  const farmBuild = await make(farmEnv());
  expect(farmBuild.exitCode, text(farmBuild.stderr)).toBe(0);
  same("through the farm");
  const stats = await sb.stats();

  await plain("make", ["clean"], dir);
  await sb.zeroStats();
  const fromCache = await make({});
  expect(fromCache.exitCode, text(fromCache.stderr)).toBe(0);
  same("from the cache");
  const cached = await sb.stats();
  expect(cached.hitsDirect + cached.hitsPreprocessor, "every object comes from the cache").toBe(FILES);
  expect(cached.misses).toBe(0);
  return stats;
}

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  sb = new RepriseSandbox();
  root = join(sb.root, "faults");
  mkdirSync(root, { recursive: true });
  sched = await startScheduler();
  proxy = await startFaultProxy();
  const port = await freePort();
  // The builder tells the scheduler the proxy's address: every client request passes through it.
  builder = await startBuilder({
    schedulerUrl: sched.url,
    token: sched.builderToken,
    builderId: "proxied",
    dataDir: join(root, "builder"),
    extra: { listen: { host: "127.0.0.1", port }, publicUrl: proxy.url },
  });
  proxy.target = new URL(`http://127.0.0.1:${port}`);
  for (let i = 0; i < 100; i++) {
    const r = await request(`${sched.url}/v1/status`, { headers: { authorization: `Bearer ${sched.clientToken}`, "x-reprise-dist-protocol": "2" } });
    const body = (await r.body.json()) as { pools: { builders: unknown[] }[] };
    if (body.pools.some((p) => p.builders.length > 0)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the builder did not register");
}, 180_000);

afterAll(async () => {
  await sb?.dispose();
  await builder?.kill();
  await proxy?.close();
  await sched?.kill();
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

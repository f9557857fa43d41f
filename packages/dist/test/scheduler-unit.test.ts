/** The allocator, registry and queue in-process, with a controlled clock (no HTTP). */
import { describe, expect, it } from "vitest";
import type { Scheduler } from "../src/scheduler/scheduler.js";
import { inProcessSchedulers, registrations } from "./support/in-process-scheduler.js";

const LINUX_A = { arch: "aarch64", os: "linux" };
const LINUX_B = { arch: "riscv64", os: "linux" };

const registration = registrations({ platform: LINUX_A });

const beat = (runningJobs: number, extra: Record<string, unknown> = {}) => ({ runningJobs, loadAvg1: 0, toolchains: [], freeToolchainBytes: 1, acceptingJobs: true, ...extra });

let clock = 1_000_000;
const make = inProcessSchedulers({ alg: "EdDSA", now: () => clock });

async function allocateId(s: Scheduler, body: Record<string, unknown> = {}): Promise<string> {
  const r = await s.allocate({ toolchainId: "tc", platforms: [LINUX_A], ...body });
  return r.ok ? r.response.builderId : r.code;
}

describe("allocation", () => {
  it("skips builders not accepting jobs (a workstation busy with its owner's work)", async () => {
    const s = await make();
    await s.register(registration("ws", { cores: 32 }));
    await s.register(registration("server", { cores: 2 }));
    s.heartbeat(s.builder("ws")!, beat(0, { acceptingJobs: false }));
    expect(await allocateId(s)).toBe("server");
    expect(await allocateId(s)).toBe("server");
    expect(await allocateId(s)).toBe("all-busy");
    s.heartbeat(s.builder("ws")!, beat(0, { acceptingJobs: true }));
    expect(await allocateId(s)).toBe("ws");
  });

  it("counts running jobs per core", async () => {
    const s = await make();
    await s.register(registration("big", { cores: 8, maxJobs: 8 }));
    await s.register(registration("small", { cores: 1, maxJobs: 8 }));
    const order = [];
    for (let i = 0; i < 9; i++) order.push(await allocateId(s));
    // small takes one job for each eight of big's (load 1/1 = 8/8).
    expect(order.filter((b) => b === "small")).toHaveLength(1);
    expect(order.filter((b) => b === "big")).toHaveLength(8);
  });

  it("does not match pools by anything but the toolchain's platforms", async () => {
    const s = await make();
    await s.register(registration("b", { platform: LINUX_B }));
    expect(await allocateId(s)).toBe("no-builder");
    expect(await allocateId(s, { platforms: [{ arch: "riscv64", os: "linux", bits: 64 }] })).toBe("b");
  });
});

describe("slot accounting", () => {
  it("a heartbeat reporting fewer running jobs takes back allocations older than the grace period", async () => {
    const s = await make();
    await s.register(registration("b", { maxJobs: 2 }));
    expect(await allocateId(s)).toBe("b");
    expect(await allocateId(s)).toBe("b");
    expect(await allocateId(s)).toBe("all-busy");
    s.heartbeat(s.builder("b")!, beat(0)); // within the grace period: those clients may still be on their way
    expect(await allocateId(s)).toBe("all-busy");
    clock += 6000;
    s.heartbeat(s.builder("b")!, beat(1)); // one is really running; the other never came
    expect(await allocateId(s)).toBe("b");
    expect(await allocateId(s)).toBe("all-busy");
  });

  it("a heartbeat listing the jobs its builder heard of frees, after a short grace, allocations no client claimed", async () => {
    const s = await make({ unclaimedGraceMs: 1500 });
    await s.register(registration("b", { maxJobs: 3 }));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await s.allocate({ toolchainId: "tc", platforms: [LINUX_A] });
      if (!r.ok) throw new Error(r.message);
      ids.push(r.response.jobId);
    }
    expect(await allocateId(s)).toBe("all-busy");
    // Within the grace, nothing is taken back, even unheard of: the client may still be on its way.
    s.heartbeat(s.builder("b")!, beat(0, { jobIds: [] }));
    expect(await allocateId(s)).toBe("all-busy");
    clock += 2000;
    // The builder heard of the first two (one running, one uploading): only the third, never claimed, is freed.
    s.heartbeat(s.builder("b")!, beat(1, { jobIds: [ids[0], ids[1]] }));
    expect(s.status().counters.unclaimedReleased).toBe(1);
    expect(await allocateId(s)).toBe("b");
    expect(await allocateId(s)).toBe("all-busy");
    // A job heard of stays until finished, however long it takes.
    clock += 60_000;
    s.heartbeat(s.builder("b")!, beat(1, { jobIds: [ids[0], ids[1]] }));
    expect(s.status().counters.unclaimedReleased).toBe(2); // the newer allocation, unheard of, went too
    expect(s.finished(ids[0]!, { ok: true, durationMs: 1 })).toBe(true);
    expect(s.finished(ids[1]!, { ok: true, durationMs: 1 })).toBe(true);
    expect(s.finished(ids[2]!, { ok: true, durationMs: 1 })).toBe(false);
  });

  it("a builder reporting more running jobs than allocated (after a scheduler restart) is not overloaded", async () => {
    const s = await make();
    await s.register(registration("b", { maxJobs: 2 }));
    s.heartbeat(s.builder("b")!, beat(2));
    expect(await allocateId(s)).toBe("all-busy");
  });

  it("frees a slot on finished, and forgets it when the job token expires", async () => {
    const s = await make();
    await s.register(registration("b", { maxJobs: 1 }));
    const r = await s.allocate({ toolchainId: "tc", platforms: [LINUX_A] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(s.finished(r.response.jobId, { ok: true, durationMs: 1 })).toBe(true);
    expect(s.finished(r.response.jobId, { ok: true, durationMs: 1 })).toBe(false);
    expect(await allocateId(s)).toBe("b");
    expect(await allocateId(s)).toBe("all-busy");
    clock += 61_000;
    s.heartbeat(s.builder("b")!, beat(1)); // keeps the builder alive; it still says one job runs
    (s as unknown as { sweep(): void }).sweep();
    s.heartbeat(s.builder("b")!, beat(0));
    expect(await allocateId(s)).toBe("b");
  });

  it("drops a builder after three silent intervals, and a re-registration starts clean", async () => {
    const s = await make();
    await s.register(registration("b"));
    expect(await allocateId(s)).toBe("b");
    clock += 3001;
    (s as unknown as { sweep(): void }).sweep();
    expect(s.builder("b")).toBeUndefined();
    expect(s.counters.droppedBuilders).toBe(1);
    expect(await allocateId(s)).toBe("no-builder");
    await s.register(registration("b"));
    expect(s.status().pools[0]!.builders[0]!.runningJobs).toBe(0);
  });
});

describe("queue", () => {
  it("is bounded in length and serves waiters in order", async () => {
    const s = await make();
    await s.register(registration("b", { maxJobs: 1 }));
    const first = await s.allocate({ toolchainId: "tc", platforms: [LINUX_A] });
    if (!first.ok) throw new Error("first allocation failed");
    const w1 = s.allocate({ toolchainId: "tc", platforms: [LINUX_A], maxWaitMs: 1000 });
    const w2 = s.allocate({ toolchainId: "tc", platforms: [LINUX_A], maxWaitMs: 1000 });
    const w3 = await s.allocate({ toolchainId: "tc", platforms: [LINUX_A], maxWaitMs: 1000 });
    expect(w3).toMatchObject({ ok: false, code: "all-busy" }); // queue of 2 is full
    expect(s.counters.queueFull).toBe(1);
    s.finished(first.response.jobId, { ok: true, durationMs: 1 });
    const r1 = await w1;
    expect(r1.ok).toBe(true);
    expect(s.status().queuedRequests).toBe(1);
    if (r1.ok) s.finished(r1.response.jobId, { ok: true, durationMs: 1 });
    expect((await w2).ok).toBe(true);
  });

  it("stops waiting when the client goes away", async () => {
    const s = await make();
    await s.register(registration("b", { maxJobs: 1 }));
    await s.allocate({ toolchainId: "tc", platforms: [LINUX_A] });
    const gone = new AbortController();
    const waiting = s.allocate({ toolchainId: "tc", platforms: [LINUX_A], maxWaitMs: 1000 }, gone.signal);
    expect(s.status().queuedRequests).toBe(1);
    gone.abort();
    expect(await waiting).toMatchObject({ ok: false, code: "all-busy" });
    expect(s.status().queuedRequests).toBe(0);
  });
});

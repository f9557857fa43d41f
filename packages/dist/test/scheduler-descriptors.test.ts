/** Descriptor toolchains (Rust by release, commit, target, std digest) and required capabilities in the allocator, in-process. */
import { describe, expect, it } from "vitest";
import type { Scheduler } from "../src/scheduler/scheduler.js";
import { AllocateRequestSchema, HeartbeatRequestSchema, RegisterRequestSchema } from "../src/protocol/scheduler-messages.js";
import { inProcessSchedulers, registrations } from "./support/in-process-scheduler.js";

const X86 = { arch: "x86_64", os: "linux" };
const ARM = { arch: "aarch64", os: "linux" };
const RUST = `rustc:1.96.0:${"a".repeat(40)}:aarch64-unknown-linux-gnu:${"b".repeat(64)}`;
const ARCHIVE = "c".repeat(64);

const registration = registrations({ platform: X86, maxJobs: 4 });

const make = inProcessSchedulers({ alg: "EdDSA", now: () => 1_000_000 });

async function allocate(s: Scheduler, toolchainId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await s.allocate({ toolchainId, platforms: [X86, ARM], ...extra });
  return r.ok ? r.response.builderId : r.code;
}

describe("descriptor toolchains", () => {
  it("go only to builders that hold or can install them; an archive goes anywhere", async () => {
    const s = await make();
    await s.register(registration("plain"));
    expect(await allocate(s, RUST)).toBe("no-builder");
    expect(await allocate(s, ARCHIVE)).toBe("plain");
    await s.register(registration("rustup", { platform: ARM, installable: ["rustc:"] }));
    expect(await allocate(s, RUST)).toBe("rustup");
    // A prefix of another kind does not match.
    await s.register(registration("other", { installable: ["gcc:"] }));
    expect(await allocate(s, RUST)).toBe("rustup");
  });

  it("prefer a builder that holds the descriptor over a less loaded one that would install it", async () => {
    const s = await make();
    await s.register(registration("installer", { cores: 64, installable: ["rustc:"] }));
    await s.register(registration("holder", { cores: 1, maxJobs: 8, toolchains: [RUST] }));
    for (let i = 0; i < 3; i++) expect(await allocate(s, RUST)).toBe("holder");
  });

  it("a job that requires a capability goes only to builders reporting it, else no-builder at once", async () => {
    const s = await make();
    await s.register(registration("compiles-only", { installable: ["rustc:"] }));
    expect(await allocate(s, RUST, { requires: ["link:aarch64-unknown-linux-gnu"] })).toBe("no-builder");
    await s.register(registration("links", { platform: ARM, installable: ["rustc:"], capabilities: ["link:aarch64-unknown-linux-gnu"] }));
    expect(await allocate(s, RUST, { requires: ["link:aarch64-unknown-linux-gnu"] })).toBe("links");
  });

  it("heartbeats update what a builder holds and can do; status shows it", async () => {
    const s = await make();
    await s.register(registration("b", { installable: ["rustc:"] }));
    s.heartbeat(s.builder("b")!, { runningJobs: 0, loadAvg1: 0, toolchains: [RUST], freeToolchainBytes: 1, acceptingJobs: true, capabilities: ["link:x86_64-unknown-linux-gnu"] });
    const b = s.status().pools.flatMap((p) => p.builders).find((x) => x.builderId === "b")!;
    expect(b).toMatchObject({ toolchains: [RUST], installable: ["rustc:"], capabilities: ["link:x86_64-unknown-linux-gnu"] });
  });

  it("the new fields are optional on the wire (older peers still validate) and checked when present", () => {
    expect(RegisterRequestSchema.safeParse(registration("old")).success).toBe(true);
    expect(RegisterRequestSchema.safeParse({ ...registration("new"), installable: ["rustc:"], capabilities: ["link:x86_64-unknown-linux-gnu"] }).success).toBe(true);
    expect(RegisterRequestSchema.safeParse({ ...registration("bad"), capabilities: ["link x"] }).success).toBe(false);
    expect(HeartbeatRequestSchema.safeParse({ runningJobs: 0, loadAvg1: 0, toolchains: [RUST], freeToolchainBytes: 0, acceptingJobs: true }).success).toBe(true);
    expect(AllocateRequestSchema.safeParse({ toolchainId: RUST, platforms: [X86], requires: ["link:x86_64-unknown-linux-gnu"] }).success).toBe(true);
  });
});

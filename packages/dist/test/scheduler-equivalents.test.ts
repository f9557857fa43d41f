/** Equivalent toolchains across pools (docs/cross-arch.md), in-process with the real scheduler. */
import { describe, expect, it } from "vitest";
import { inProcessSchedulers, registrations } from "./support/in-process-scheduler.js";

const X86 = { arch: "x86_64", os: "linux" };
const ARM = { arch: "aarch64", os: "linux" };
const OWN = "a".repeat(64);
const EQUIV = "e".repeat(64);

const registration = registrations({ platform: X86 });

const make = inProcessSchedulers({ alg: "ES256" });

describe("equivalent toolchains", () => {
  it("a builder of another pool takes the job only when it holds an equivalent, and the answer names that toolchain", async () => {
    const s = await make();
    await s.register(registration("arm-empty", { platform: ARM }));
    // Without equivalents, or with one nobody holds: no builder can run an x86_64 toolchain.
    expect(await s.allocate({ toolchainId: OWN, platforms: [X86] })).toMatchObject({ ok: false, code: "no-builder" });
    expect(await s.allocate({ toolchainId: OWN, platforms: [X86], equivalents: [EQUIV] })).toMatchObject({ ok: false, code: "no-builder" });
    await s.register(registration("arm-holds", { platform: ARM, toolchains: [EQUIV] }));
    const r = await s.allocate({ toolchainId: OWN, platforms: [X86], equivalents: [EQUIV] });
    expect(r).toMatchObject({ ok: true, response: { builderId: "arm-holds", toolchainId: EQUIV } });
  });

  it("the preferred pool wins when free; otherwise the client's own pool runs its own toolchain", async () => {
    const s = await make();
    await s.register(registration("x86", { platform: X86 }));
    await s.register(registration("arm", { platform: ARM, toolchains: [EQUIV], maxJobs: 1 }));
    const first = await s.allocate({ toolchainId: OWN, platforms: [X86], equivalents: [EQUIV], preferPlatform: ARM });
    expect(first).toMatchObject({ ok: true, response: { builderId: "arm", toolchainId: EQUIV } });
    const second = await s.allocate({ toolchainId: OWN, platforms: [X86], equivalents: [EQUIV], preferPlatform: ARM });
    expect(second).toMatchObject({ ok: true, response: { builderId: "x86", toolchainId: OWN } });
  });

  it("the job token is bound to the toolchain the builder runs", async () => {
    const s = await make();
    await s.register(registration("arm", { platform: ARM, toolchains: [EQUIV] }));
    const r = await s.allocate({ toolchainId: OWN, platforms: [X86], equivalents: [EQUIV] });
    if (!r.ok) throw new Error(r.message);
    const payload = JSON.parse(Buffer.from(r.response.jobToken.split(".")[1]!, "base64url").toString()) as { tid?: string };
    expect(payload.tid).toBe(EQUIV);
  });

  it("status lists what each builder holds of its own", async () => {
    const s = await make();
    const held = [{ id: OWN, family: "clang", version: "14.0.6", compilerPath: "/usr/bin/clang-14", targets: [{ target: "x86_64-pc-linux-gnu", equivalence: EQUIV }] }];
    await s.register(registration("arm", { platform: ARM, toolchains: [OWN, EQUIV], held, rustTargets: [{ target: "x86_64-unknown-linux-gnu", held: false }] }));
    const b = s.status().pools[0]!.builders[0]!;
    expect(b.held).toEqual(held);
    expect(b.rustTargets).toEqual([{ target: "x86_64-unknown-linux-gnu", held: false }]);
  });
});

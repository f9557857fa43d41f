import { describe, expect, it } from "vitest";
import type { CompileJob } from "@reprise/core";
import { jobFromWire, jobToWire, RunRequestSchema } from "../../src/builder/job-message.js";

const job: CompileJob = {
  toolchainId: "c".repeat(64),
  argv: ["/usr/bin/gcc", "-c", "a.c", "-o", "a.o"],
  cwd: "/home/u/p",
  env: { LANG: "C" },
  inputs: [
    { path: "/home/u/p/a.c", hash: "a".repeat(64), size: 10 },
    { path: "/home/u/p/plugin.so", hash: "b".repeat(64), size: 20, executable: true },
  ],
  outputs: [{ role: "object", path: "/home/u/p/a.o" }],
  limits: { timeoutMs: 60_000, maxOutputBytes: 1e9, memoryBytes: 8 * 1024 ** 3, maxProcesses: 1000 },
  directories: ["/home/u/p/include"],
  links: [{ path: "/usr/bin/cc", target: "/usr/bin/x86_64-linux-gnu-gcc-12" }],
};

describe("job messages", () => {
  it("a job survives the wire, its limits capped by the builder's", () => {
    const wire = RunRequestSchema.parse(JSON.parse(JSON.stringify({ toolchainId: job.toolchainId, job: jobToWire(job) })));
    const back = jobFromWire(wire.toolchainId, wire.job, { timeoutMs: 30_000, maxOutputBytes: 1e6, memoryBytes: 1024 ** 3, maxProcesses: 64 });
    expect(back).toEqual({ ...job, limits: { timeoutMs: 30_000, maxOutputBytes: 1e6, memoryBytes: 1024 ** 3, maxProcesses: 64 } });
  });

  it("takes names that only look like dot components", () => {
    const wire = { ...jobToWire(job), inputs: [{ path: "/p/.../a..c/.hidden/..x", digest: "a".repeat(64), size: 1, mode: 0o644 }] };
    expect(RunRequestSchema.safeParse({ toolchainId: job.toolchainId, job: wire }).success).toBe(true);
  });

  it.each([
    ["a relative input path", { inputs: [{ path: "a.c", digest: "a".repeat(64), size: 1, mode: 0o644 }] }],
    ["an input path with ..", { inputs: [{ path: "/p/../etc/passwd", digest: "a".repeat(64), size: 1, mode: 0o644 }] }],
    ["an input path ending in ..", { inputs: [{ path: "/p/..", digest: "a".repeat(64), size: 1, mode: 0o644 }] }],
    ["an input path with .", { inputs: [{ path: "/p/./a.c", digest: "a".repeat(64), size: 1, mode: 0o644 }] }],
    ["a directory that is ..", { directories: ["/.."] }],
    ["a cwd ending in .", { cwd: "/p/." }],
    ["a digest that is not one", { inputs: [{ path: "/p/a.c", digest: "../x", size: 1, mode: 0o644 }] }],
    ["an unknown field", { surprise: true }],
    ["no outputs", { outputs: [] }],
  ])("refuses %s", (_name, change) => {
    const wire = { ...jobToWire(job), ...change };
    expect(RunRequestSchema.safeParse({ toolchainId: job.toolchainId, job: wire }).success).toBe(false);
  });
});

import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { resolveBuilderConfig } from "../../src/builder/config.js";

describe("builder config", () => {
  it("fills defaults, resolves paths from the config's directory and reads sizes", () => {
    const c = resolveBuilderConfig({ schedulerUrl: "https://sched:10600", token: "t", dataDir: "data", toolchainCacheSize: "2G", tls: { certFile: "c.pem", keyFile: "k.pem" } }, "/etc/reprise", {});
    expect(c.dataDir).toBe("/etc/reprise/data");
    expect(c.toolchainCacheSize).toBe(2 * 1024 ** 3);
    expect(c.tls).toEqual({ certFile: "/etc/reprise/c.pem", keyFile: "/etc/reprise/k.pem" });
    expect(c.sandbox).toBe("bwrap,docker");
    expect(c.limits.maxProcesses).toBe(256);
    expect(c.maxJobs).toBeGreaterThan(0);
    expect(c.toolchains).toEqual([]);
    const held = resolveBuilderConfig({ schedulerUrl: "http://s:1", token: "t", toolchains: [{ compiler: "/usr/bin/clang-14", targets: ["x86_64-pc-linux-gnu"] }, { compiler: "/usr/bin/gcc-12" }] }, "/", {});
    expect(held.toolchains).toEqual([
      { compiler: "/usr/bin/clang-14", targets: ["x86_64-pc-linux-gnu"] },
      { compiler: "/usr/bin/gcc-12", targets: [] },
    ]);
  });

  it("runs at most the cores' number of jobs at once, and never more than it accepts", () => {
    const base = { schedulerUrl: "http://s:1", token: "t" };
    const cores = availableParallelism();
    expect(resolveBuilderConfig(base, "/", {}).maxRunningJobs).toBe(cores);
    expect(resolveBuilderConfig({ ...base, maxJobs: cores + 2 }, "/", {}).maxRunningJobs).toBe(cores);
    expect(resolveBuilderConfig({ ...base, maxJobs: 3, maxRunningJobs: 2 }, "/", {}).maxRunningJobs).toBe(2);
    expect(resolveBuilderConfig({ ...base, maxJobs: 1, maxRunningJobs: 4 }, "/", {}).maxRunningJobs).toBe(1);
    expect(() => resolveBuilderConfig({ ...base, maxRunningJobs: 0 }, "/", {})).toThrow(/maxRunningJobs/);
  });

  it("takes the token and scheduler from the environment", () => {
    const c = resolveBuilderConfig({}, "/", { REPRISE_DIST_SCHEDULER_URL: "http://s:1", REPRISE_DIST_BUILDER_TOKEN: "tok" });
    expect(c.schedulerUrl).toBe("http://s:1");
    expect(c.token).toBe("tok");
  });

  it("a rust section: rustup's homes resolved from the config's directory, declared toolchains and link targets kept", () => {
    const c = resolveBuilderConfig(
      { schedulerUrl: "http://s:1", token: "t", rust: { rustup: { rustupHome: "rh", distServer: "http://127.0.0.1:9000", timeoutMs: 5000 }, toolchains: [{ rustc: "/usr/bin/rustc" }], linkTargets: ["x86_64-unknown-linux-gnu"] } },
      "/etc/reprise",
      {},
    );
    expect(c.rust).toEqual({ rustup: { rustupHome: "/etc/reprise/rh", distServer: "http://127.0.0.1:9000", timeoutMs: 5000 }, toolchains: [{ rustc: "/usr/bin/rustc" }], linkTargets: ["x86_64-unknown-linux-gnu"] });
    expect(resolveBuilderConfig({ schedulerUrl: "http://s:1", token: "t" }, "/", {}).rust).toBeUndefined();
  });

  it.each([
    [{ schedulerUrl: "http://s:1", token: "t", rust: { rustup: { server: "x" } } }, /rust\.rustup/],
    [{ schedulerUrl: "http://s:1", token: "t", rust: { rustup: { distServer: "not a url" } } }, /rust\.rustup\.distServer/],
    [{ token: "t" }, /schedulerUrl/],
    [{ schedulerUrl: "http://s:1" }, /no builder token/],
    [{ schedulerUrl: "http://s:1", token: "t", unsandboxed: true }, /unrecognized|unsandboxed/i],
    [{ schedulerUrl: "http://s:1", token: "t", blobStoreSize: "lots" }, /blobStoreSize/],
    [{ schedulerUrl: "http://s:1", token: "t", toolchains: [{ compiler: "clang-14", targets: ["x86_64-pc-linux-gnu"] }] }, /toolchains\.0\.compiler: must be an absolute path/],
    [{ schedulerUrl: "http://s:1", token: "t", toolchains: [{ compiler: "/usr/bin/clang-14", targets: ["x86 64"] }] }, /toolchains\.0\.targets/],
  ])("says in one line what is wrong with %j", (input, message) => {
    expect(() => resolveBuilderConfig(input, "/", {})).toThrow(message);
  });
});

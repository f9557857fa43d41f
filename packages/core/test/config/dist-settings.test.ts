import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { ConfigError } from "../../src/util/errors.js";

/** The farm client's settings (`dist`, `REPRISE_DIST_*`). */

function project(config?: unknown): string {
  const root = mkdtempSync(join(tmpdir(), "reprise-dist-config-"));
  if (config !== undefined) writeFileSync(join(root, ".repriserc.json"), JSON.stringify(config));
  return root;
}
const env = (root: string, more: Record<string, string> = {}) => ({ HOME: root, XDG_CONFIG_HOME: join(root, "xdg"), ...more });

describe("dist settings", () => {
  it("are absent until a scheduler URL is set", async () => {
    const root = project({ dist: { token: "t" } });
    expect((await new SettingsLoader().load(root, env(root))).dist).toBeUndefined();
  });

  it("come from the config file, with defaults, the CA resolved against the file", async () => {
    const root = project({ dist: { schedulerUrl: "https://sched:7420", token: "t", caFile: "ca.pem" } });
    const s = await new SettingsLoader().load(root, env(root));
    expect(s.dist).toEqual({ schedulerUrl: "https://sched:7420", token: "t", caFile: join(root, "ca.pem"), mode: "overflow", fallback: "local", jobTimeoutMs: 120_000, allocateTimeoutMs: 2000, crossArch: true });
  });

  it("cross-architecture keys: a preferred pool, crossArch, declared toolchains resolved against the file", async () => {
    const root = project({ dist: { schedulerUrl: "https://sched:7420", preferPlatform: "aarch64", toolchains: { "/usr/bin/clang-14": ["tc/clang-arm64.tar.gz"] } } });
    const s = await new SettingsLoader().load(root, env(root));
    expect(s.dist).toMatchObject({ preferPlatform: { os: "linux", arch: "aarch64" }, crossArch: true, declaredToolchains: { "/usr/bin/clang-14": [join(root, "tc/clang-arm64.tar.gz")] } });
    const fromEnv = await new SettingsLoader().load(root, env(root, { REPRISE_DIST_PREFER_PLATFORM: "linux/x86_64", REPRISE_DIST_CROSS_ARCH: "0" }));
    expect(fromEnv.dist).toMatchObject({ preferPlatform: { os: "linux", arch: "x86_64" }, crossArch: false });
    const bad = project({ dist: { schedulerUrl: "https://sched:7420", toolchains: { "clang-14": ["x.tar.gz"] } } });
    await expect(new SettingsLoader().load(bad, env(bad))).rejects.toThrow(/dist\.toolchains/);
  });

  it("REPRISE_DIST_* override the file key by key, and REPRISE_DIST=0 turns the farm off", async () => {
    const root = project({ dist: { schedulerUrl: "https://sched:7420", token: "file-token" } });
    const s = await new SettingsLoader().load(root, env(root, { REPRISE_DIST_TOKEN: "env-token", REPRISE_DIST_MODE: "always", REPRISE_DIST_FALLBACK: "fail", REPRISE_DIST_JOB_TIMEOUT_MS: "5000", REPRISE_DIST_ALLOCATE_TIMEOUT_MS: "700" }));
    expect(s.dist).toMatchObject({ schedulerUrl: "https://sched:7420", token: "env-token", mode: "always", fallback: "fail", jobTimeoutMs: 5000, allocateTimeoutMs: 700 });
    const off = await new SettingsLoader().load(root, env(root, { REPRISE_DIST: "0" }));
    expect(off.dist).toBeUndefined();
  });

  it("a variable changes the settings of the next call (part of the settings cache key)", async () => {
    const root = project();
    const loader = new SettingsLoader();
    expect((await loader.load(root, env(root))).dist).toBeUndefined();
    expect((await loader.load(root, env(root, { REPRISE_DIST_SCHEDULER_URL: "http://127.0.0.1:9" }))).dist?.schedulerUrl).toBe("http://127.0.0.1:9");
  });

  it("names a bad value", async () => {
    const root = project({ dist: { schedulerUrl: "not a url" } });
    const err = await new SettingsLoader().load(root, env(root)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/dist\.schedulerUrl/);
    const bad = await new SettingsLoader().load(root, env(root, { REPRISE_DIST_MODE: "sometimes" })).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ConfigError);
  });
});

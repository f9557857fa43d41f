import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { ConfigError } from "../../src/util/errors.js";

function withConfig(config: unknown) {
  const root = mkdtempSync(join(tmpdir(), "reprise-joblimits-"));
  writeFileSync(join(root, ".repriserc.json"), JSON.stringify(config));
  return { root, env: { HOME: root, XDG_CONFIG_HOME: join(root, "xdg") } };
}

describe("config jobLimits", () => {
  it("reads the limits of sandboxed jobs: seconds, counts and sizes", async () => {
    const { root, env } = withConfig({ hermetic: "bwrap", jobLimits: { timeout: 90, maxProcesses: 64, memory: "512M", maxOutput: "2G" } });
    const s = await new SettingsLoader().load(root, env);
    expect(s.jobLimits).toEqual({ timeoutMs: 90_000, maxProcesses: 64, memoryBytes: 512 * 1024 ** 2, maxOutputBytes: 2 * 1024 ** 3 });
    const none = withConfig({ hermetic: "bwrap" });
    expect((await new SettingsLoader().load(none.root, none.env)).jobLimits).toBeUndefined();
  });

  it("names a bad limit", async () => {
    for (const [limits, named] of [
      [{ maxProcesses: 2 }, "jobLimits.maxProcesses"],
      [{ timeout: -1 }, "jobLimits.timeout"],
      [{ memory: "lots" }, "jobLimits.memory"],
      [{ cpus: 2 }, "cpus"],
    ] as const) {
      const { root, env } = withConfig({ jobLimits: limits });
      const err = await new SettingsLoader().load(root, env).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain(named);
    }
  });
});

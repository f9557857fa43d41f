import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { ConfigError } from "../../src/util/errors.js";

function project(config?: unknown): string {
  const root = mkdtempSync(join(tmpdir(), "reprise-levels-"));
  if (config !== undefined) writeFileSync(join(root, ".repriserc.json"), JSON.stringify(config));
  return root;
}

const envOf = (root: string, more: Record<string, string> = {}) => ({ HOME: root, XDG_CONFIG_HOME: join(root, "xdg"), ...more });

describe("cache levels in settings", () => {
  it("default: one read-write local level, no recache, bounded remote timeouts", async () => {
    const root = project();
    const s = await new SettingsLoader().load(root, envOf(root));
    expect(s.levels).toEqual([{ kind: "local", readOnly: false }]);
    expect(s.recache).toBe(false);
    expect(s.remote.connectTimeoutMs).toBeGreaterThan(0);
    expect(s.remote.requestTimeoutMs).toBeGreaterThan(0);
  });

  it("sccache-style variables alone add remote levels after the local disk, in a fixed order", async () => {
    const root = project();
    const s = await new SettingsLoader().load(
      root,
      envOf(root, {
        REPRISE_BUCKET: "b",
        REPRISE_ENDPOINT: "127.0.0.1:9000",
        REPRISE_S3_USE_SSL: "false",
        REPRISE_REDIS_ENDPOINT: "redis://h:6379",
        REPRISE_REDIS_TTL: "3600",
        REPRISE_REDIS_KEY_PREFIX: "ci/",
        REPRISE_S3_RW_MODE: "READ_ONLY",
      }),
    );
    expect(s.levels).toEqual([
      { kind: "local", readOnly: false },
      { kind: "redis", options: { endpoint: "redis://h:6379", ttl: "3600", keyPrefix: "ci/" }, readOnly: false },
      { kind: "s3", options: { bucket: "b", endpoint: "127.0.0.1:9000", useSsl: "false" }, readOnly: true },
    ]);
  });

  it("a config file lists levels with options and read-only; env replaces its remote levels", async () => {
    const root = project({
      levels: [{ kind: "local" }, { kind: "webdav", options: { endpoint: "http://dav/" }, readOnly: true }],
      remote: { requestTimeoutMs: 1234, connectTimeoutMs: 99 },
    });
    const loader = new SettingsLoader();
    const fromFile = await loader.load(root, envOf(root));
    expect(fromFile.levels).toEqual([{ kind: "local", readOnly: false }, { kind: "webdav", options: { endpoint: "http://dav/" }, readOnly: true }]);
    expect(fromFile.remote.requestTimeoutMs).toBe(1234);
    const withEnv = await loader.load(root, envOf(root, { REPRISE_MEMCACHED_ENDPOINT: "h:11211", REPRISE_REMOTE_TIMEOUT_MS: "500", REPRISE_LOCAL_RW_MODE: "read_only" }));
    expect(withEnv.levels).toEqual([{ kind: "local", readOnly: true }, { kind: "memcached", options: { endpoint: "h:11211" }, readOnly: false }]);
    // Env sets one bound, the file's other one stays.
    expect(withEnv.remote.requestTimeoutMs).toBe(500);
    expect(withEnv.remote.connectTimeoutMs).toBe(99);
  });

  it("REPRISE_RECACHE turns recache on; a bad RW mode is a config error naming the variable", async () => {
    const root = project();
    const loader = new SettingsLoader();
    expect((await loader.load(root, envOf(root, { REPRISE_RECACHE: "1" }))).recache).toBe(true);
    expect((await loader.load(root, envOf(root, { REPRISE_RECACHE: "0" }))).recache).toBe(false);
    const err = await loader.load(root, envOf(root, { REPRISE_REDIS_ENDPOINT: "h", REPRISE_REDIS_RW_MODE: "sometimes" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("REPRISE_REDIS_RW_MODE");
  });

  it("rejects an unknown key in a level", async () => {
    const root = project({ levels: [{ kind: "local", readonly: true }] });
    await expect(new SettingsLoader().load(root, envOf(root))).rejects.toBeInstanceOf(ConfigError);
  });
});

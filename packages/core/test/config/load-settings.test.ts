import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { ConfigError } from "../../src/util/errors.js";

function project(files: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), "reprise-config-"));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(root, name, ".."), { recursive: true });
    writeFileSync(join(root, name), body);
  }
  return root;
}

const isolatedEnv = (root: string, more: Record<string, string> = {}) => ({ HOME: root, XDG_CONFIG_HOME: join(root, "xdg"), ...more });

describe("settings", () => {
  it("finds .repriserc.json from a subdirectory and resolves dir against the file", async () => {
    const root = project({ ".repriserc.json": JSON.stringify({ dir: "cache", cacheSize: "2G", keyMode: "preprocessor" }), "sub/deeper/x.c": "" });
    const s = await new SettingsLoader().load(join(root, "sub/deeper"), isolatedEnv(root));
    expect(s.dir).toBe(join(root, "cache"));
    expect(s.cacheSizeBytes).toBe(2 * 1024 ** 3);
    expect(s.keyMode).toBe("preprocessor");
    expect(s.configFile).toBe(join(root, ".repriserc.json"));
  });

  it("reads package.json#reprise and lets REPRISE_* override it", async () => {
    const root = project({ "package.json": JSON.stringify({ name: "x", reprise: { cacheSize: 1000, disable: false } }) });
    const s = await new SettingsLoader().load(root, isolatedEnv(root, { REPRISE_CACHE_SIZE: "500M", REPRISE_DISABLE: "1", REPRISE_DIR: "/tmp/rc" }));
    expect(s.cacheSizeBytes).toBe(500 * 1024 ** 2);
    expect(s.disable).toBe(true);
    expect(s.dir).toBe("/tmp/rc");
  });

  it("baseDirs: from config or REPRISE_BASEDIRS (colon-separated), normalised, innermost first; relative ones refused", async () => {
    const root = project({ ".repriserc.json": JSON.stringify({ baseDirs: ["/home/a/"] }) });
    expect((await new SettingsLoader().load(root, isolatedEnv(root))).baseDirs).toEqual(["/home/a"]);
    const fromEnv = await new SettingsLoader().load(root, isolatedEnv(root, { REPRISE_BASEDIRS: "/builds:/builds/proj/./:/" }));
    expect(fromEnv.baseDirs).toEqual(["/builds/proj", "/builds"]);
    const none = project({});
    expect((await new SettingsLoader().load(none, isolatedEnv(none))).baseDirs).toEqual([]);
    const err = await new SettingsLoader().load(none, isolatedEnv(none, { REPRISE_BASEDIRS: "rel/dir" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/absolute/);
  });

  it("names an unknown key", async () => {
    const root = project({ ".repriserc.json": JSON.stringify({ cachSize: "1G" }) });
    const err = await new SettingsLoader().load(root, isolatedEnv(root)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/unknown key "cachSize"/);
    expect((err as Error).message).toContain(".repriserc.json");
  });

  it("names a bad value and where it came from", async () => {
    const root = project({});
    const err = await new SettingsLoader().load(root, isolatedEnv(root, { REPRISE_CACHE_SIZE: "lots" })).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/invalid config in REPRISE_CACHE_SIZE: "cacheSize": "lots" is not a size/);
  });

  it("falls back to the user's config dir, then to defaults", async () => {
    const root = project({ "xdg/reprise/.repriserc.json": JSON.stringify({ maxJobs: 3 }), "proj/a.c": "" });
    const s = await new SettingsLoader().load(join(root, "proj"), isolatedEnv(root));
    expect(s.maxJobs).toBe(3);
    expect(s.keyMode).toBe("direct");
    expect(s.dir).toBe(join(root, ".cache", "reprise"));
  });
});

import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { ConfigError } from "../../src/util/errors.js";

/** A uid no account uses: root (the test runner) can hand files to it. */
const STRANGER = 54321;

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), "reprise-trust-"));
  chmodSync(root, 0o755);
  return root;
}

const envFor = (root: string, more: Record<string, string> = {}) => ({ HOME: join(root, "home"), XDG_CONFIG_HOME: join(root, "home", ".config"), ...more });

describe("config search and who wrote the file", () => {
  it("stops at a world-writable directory: a config there is neither read nor executed, and a warning names it", async () => {
    const root = tree();
    const shared = join(root, "shared");
    mkdirSync(join(shared, "victim", "proj"), { recursive: true });
    chmodSync(shared, 0o1777);
    const marker = join(root, "ran");
    writeFileSync(join(shared, ".repriserc.js"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "x"); module.exports = { keyMode: "preprocessor" };\n`);
    const s = await new SettingsLoader().load(join(shared, "victim", "proj"), envFor(root));
    expect(existsSync(marker)).toBe(false);
    expect(s.keyMode).toBe("direct");
    expect(s.configFile).toBeUndefined();
    expect(s.warnings.join("\n")).toMatch(new RegExp(`ignored ${join(shared, ".repriserc.js")}: .*${shared}.*writable by other users \\(mode 1777\\)`));
  });

  it("says nothing when there is no config above the directory where the search stopped", async () => {
    const root = tree();
    const shared = join(root, "shared");
    mkdirSync(join(shared, "proj"), { recursive: true });
    chmodSync(shared, 0o1777);
    const s = await new SettingsLoader().load(join(shared, "proj"), envFor(root));
    expect(s.warnings).toEqual([]);
  });

  it("ignores a config file owned by another user, or writable by group or others, and stops there", async () => {
    const root = tree();
    const proj = join(root, "proj");
    mkdirSync(join(proj, "sub"), { recursive: true });
    writeFileSync(join(root, ".repriserc.json"), JSON.stringify({ maxJobs: 7 }));
    const file = join(proj, ".repriserc.json");
    writeFileSync(file, JSON.stringify({ maxJobs: 3 }));
    chownSync(file, STRANGER, STRANGER);
    let s = await new SettingsLoader().load(join(proj, "sub"), envFor(root));
    expect(s.maxJobs).not.toBe(3);
    expect(s.maxJobs).not.toBe(7);
    expect(s.warnings).toEqual([`ignored ${file}: it is owned by uid ${STRANGER}, not by you (uid 0) or root`]);
    chownSync(file, 0, 0);
    chmodSync(file, 0o666);
    s = await new SettingsLoader().load(join(proj, "sub"), envFor(root));
    expect(s.warnings[0]).toMatch(/writable by group or other users \(mode 0666\)/);
    chmodSync(file, 0o644);
    s = await new SettingsLoader().load(join(proj, "sub"), envFor(root));
    expect(s.maxJobs).toBe(3);
    expect(s.warnings).toEqual([]);
  });

  it("does not search a directory owned by another user", async () => {
    const root = tree();
    const theirs = join(root, "theirs");
    mkdirSync(join(theirs, "mine"), { recursive: true });
    writeFileSync(join(theirs, ".repriserc.json"), JSON.stringify({ maxJobs: 5 }));
    chownSync(theirs, STRANGER, STRANGER);
    const s = await new SettingsLoader().load(join(theirs, "mine"), envFor(root));
    expect(s.maxJobs).not.toBe(5);
    expect(s.warnings.join("\n")).toContain(`owned by uid ${STRANGER}`);
  });

  it("checks the user's config dir the same way", async () => {
    const root = tree();
    const userDir = join(root, "home", ".config", "reprise");
    mkdirSync(userDir, { recursive: true });
    mkdirSync(join(root, "proj"));
    writeFileSync(join(userDir, ".repriserc.json"), JSON.stringify({ maxJobs: 9 }));
    chmodSync(userDir, 0o777);
    const s = await new SettingsLoader().load(join(root, "proj"), envFor(root));
    expect(s.maxJobs).not.toBe(9);
    expect(s.warnings.join("\n")).toMatch(/ignored .*reprise\/\.repriserc\.json: .*writable by other users/);
  });
});

describe("a config is current as of each call", () => {
  it("a directory made world-writable is not searched from the next call on", async () => {
    const root = tree();
    mkdirSync(join(root, "proj"));
    writeFileSync(join(root, ".repriserc.json"), JSON.stringify({ maxJobs: 5 }));
    const loader = new SettingsLoader();
    expect((await loader.load(join(root, "proj"), envFor(root))).maxJobs).toBe(5);
    chmodSync(root, 0o1777);
    const s = await loader.load(join(root, "proj"), envFor(root));
    expect(s.maxJobs).not.toBe(5);
    expect(s.warnings.join("\n")).toContain("writable by other users (mode 1777)");
  });

  it("an edit, a replacement by rename and a new nearer file all apply to the next load", async () => {
    const root = tree();
    mkdirSync(join(root, "proj", "sub"), { recursive: true });
    const loader = new SettingsLoader();
    const cwd = join(root, "proj", "sub");
    writeFileSync(join(root, "proj", ".repriserc.json"), JSON.stringify({ maxJobs: 2 }));
    expect((await loader.load(cwd, envFor(root))).maxJobs).toBe(2);
    writeFileSync(join(root, "proj", ".repriserc.json"), JSON.stringify({ maxJobs: 13 }));
    expect((await loader.load(cwd, envFor(root))).maxJobs).toBe(13);
    writeFileSync(join(root, "proj", "new.json"), JSON.stringify({ maxJobs: 4 }));
    renameSync(join(root, "proj", "new.json"), join(root, "proj", ".repriserc.json"));
    expect((await loader.load(cwd, envFor(root))).maxJobs).toBe(4);
    // A new file in a directory is seen once its listing is checked again (at most every 250 ms).
    writeFileSync(join(cwd, "reprise.config.json"), JSON.stringify({ maxJobs: 6 }));
    await new Promise((r) => setTimeout(r, 300));
    expect((await loader.load(cwd, envFor(root))).maxJobs).toBe(6);
    // Removing it is seen at once.
    rmSync(join(cwd, "reprise.config.json"));
    expect((await loader.load(cwd, envFor(root))).maxJobs).toBe(4);
  });

  it("a JavaScript config is imported afresh after an edit", async () => {
    const root = tree();
    const loader = new SettingsLoader();
    const file = join(root, ".repriserc.cjs");
    writeFileSync(file, "module.exports = { maxJobs: 2 };\n");
    expect((await loader.load(root, envFor(root))).maxJobs).toBe(2);
    writeFileSync(file, "module.exports = { maxJobs: 11, keyMode: 'preprocessor' };\n");
    const s = await loader.load(root, envFor(root));
    expect(s.maxJobs).toBe(11);
    expect(s.keyMode).toBe("preprocessor");
    const esm = join(root, "sub", "reprise.config.mjs");
    mkdirSync(join(root, "sub"));
    writeFileSync(esm, "export default { maxJobs: 3 };\n");
    expect((await loader.load(join(root, "sub"), envFor(root))).maxJobs).toBe(3);
    writeFileSync(esm, "export default { maxJobs: 12 };\n");
    expect((await loader.load(join(root, "sub"), envFor(root))).maxJobs).toBe(12);
  });
});

describe("bad values in the environment", () => {
  it.each([
    ["REPRISE_DISABLE", "maybe", /invalid config in REPRISE_DISABLE: "disable": "maybe" is not a boolean \(accepted: 1, true, yes, on, 0, false, no, off\)/],
    ["REPRISE_CACHE_SIZE", "abc", /invalid config in REPRISE_CACHE_SIZE: "cacheSize": "abc" is not a size/],
    ["REPRISE_MAX_JOBS", "many", /invalid config in REPRISE_MAX_JOBS: "maxJobs": "many" is not a whole number/],
    ["REPRISE_IDLE_TIMEOUT", "-1", /invalid config in REPRISE_IDLE_TIMEOUT: "idleTimeout"/],
    ["REPRISE_KEY_MODE", "fast", /invalid config in REPRISE_KEY_MODE: "keyMode"/],
  ])("%s=%s is refused with the variable named", async (name, value, expected) => {
    const root = tree();
    const err = await new SettingsLoader().load(root, envFor(root, { [name]: value })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(expected);
  });

  it("accepts the boolean words in any case", async () => {
    const root = tree();
    expect((await new SettingsLoader().load(root, envFor(root, { REPRISE_DISABLE: "Off" }))).disable).toBe(false);
    expect((await new SettingsLoader().load(root, envFor(root, { REPRISE_DISABLE: "YES" }))).disable).toBe(true);
  });
});

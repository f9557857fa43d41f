import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadFirstPartyPlugin, loadPlugins } from "../../src/config/load-plugins.js";
import { PluginError } from "../../src/util/errors.js";
import { silentLogger } from "../../src/util/logger.js";

const STRANGER = 54321;
const PLUGIN = `export default { name: "probe", apply() {} };\n`;
let root: string;

function project(): string {
  root = mkdtempSync(join(tmpdir(), "reprise-plugin-trust-"));
  chmodSync(root, 0o755);
  return root;
}

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("a plugin file another user could have written is not loaded", () => {
  it("loads a plugin of the user's own", async () => {
    const dir = project();
    writeFileSync(join(dir, "probe.mjs"), PLUGIN);
    expect((await loadPlugins(["./probe.mjs"], dir, silentLogger)).map((p) => p.name)).toEqual(["probe"]);
  });

  it("refuses one owned by another user", async () => {
    const dir = project();
    writeFileSync(join(dir, "probe.mjs"), PLUGIN);
    chownSync(join(dir, "probe.mjs"), STRANGER, STRANGER);
    const err = await loadPlugins(["./probe.mjs"], dir, silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as Error).message).toMatch(new RegExp(`plugin ./probe.mjs: is not loaded: another user could have written it: .*probe.mjs: it is owned by uid ${STRANGER}`));
  });

  it("refuses one in a directory every user can write, and one in a package under such a directory", async () => {
    const dir = project();
    const open = join(dir, "open");
    mkdirSync(join(open, "node_modules", "probe-plugin"), { recursive: true });
    chmodSync(open, 0o777);
    writeFileSync(join(open, "probe.mjs"), PLUGIN);
    writeFileSync(join(open, "node_modules", "probe-plugin", "package.json"), JSON.stringify({ name: "probe-plugin", type: "module", main: "index.js" }));
    writeFileSync(join(open, "node_modules", "probe-plugin", "index.js"), PLUGIN);
    mkdirSync(join(open, "proj"));
    await expect(loadPlugins(["./probe.mjs"], open, silentLogger)).rejects.toThrow(/is not loaded: .*open: it is writable by other users \(mode 0777\)/);
    await expect(loadPlugins(["probe-plugin"], join(open, "proj"), silentLogger)).rejects.toThrow(/is not loaded/);
  });

  it("applies to a storage backend's plugin loaded for a level as well", async () => {
    const dir = project();
    const open = join(dir, "open");
    mkdirSync(join(open, "node_modules", "probe-storage"), { recursive: true });
    chmodSync(open, 0o777);
    writeFileSync(join(open, "node_modules", "probe-storage", "package.json"), JSON.stringify({ name: "probe-storage", type: "module", main: "index.js" }));
    writeFileSync(join(open, "node_modules", "probe-storage", "index.js"), PLUGIN);
    mkdirSync(join(open, "proj"));
    await expect(loadFirstPartyPlugin("probe-storage", join(open, "proj"), silentLogger)).rejects.toThrow(/is not loaded: .*open: it is writable by other users/);
    // The same package in a directory of the user's own loads.
    const mine = join(dir, "mine");
    mkdirSync(join(mine, "node_modules", "probe-storage"), { recursive: true });
    writeFileSync(join(mine, "node_modules", "probe-storage", "package.json"), JSON.stringify({ name: "probe-storage", type: "module", main: "index.js" }));
    writeFileSync(join(mine, "node_modules", "probe-storage", "index.js"), PLUGIN);
    expect((await loadFirstPartyPlugin("probe-storage", mine, silentLogger))?.name).toBe("probe");
  });
});

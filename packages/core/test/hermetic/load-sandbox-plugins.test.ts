import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlugins, loadSandboxPlugin, sandboxPluginsFor } from "../../src/config/load-plugins.js";
import { Engine } from "../../src/engine/engine.js";
import { silentLogger } from "../../src/util/logger.js";

/** The first-party sandbox plugins are loaded when `hermetic` names their sandbox (they are installed in this workspace). */

const repo = resolve(import.meta.dirname, "../../../..");
const names = (ps: { name: string }[]) => ps.map((p) => p.name);

describe("sandbox plugins for hermetic mode", () => {
  it("maps sandbox names to first-party packages", () => {
    expect(sandboxPluginsFor("bwrap")).toEqual(["@reprise/plugin-sandbox-bwrap"]);
    expect(sandboxPluginsFor("docker, podman,bwrap")).toEqual(["@reprise/plugin-sandbox-docker", "@reprise/plugin-sandbox-bwrap"]);
    expect(sandboxPluginsFor("my-own-sandbox")).toEqual([]);
    expect(sandboxPluginsFor(undefined)).toEqual([]);
  });

  it("loads the named sandbox's plugin besides the default plugins, or after the listed ones, once", async () => {
    const defaults = await loadPlugins([], repo, silentLogger, { hermetic: "bwrap" });
    expect(names(defaults)).toEqual(expect.arrayContaining(["@reprise/plugin-gcc", "@reprise/plugin-sandbox-bwrap"]));
    expect(names(defaults).at(-1)).toBe("@reprise/plugin-sandbox-bwrap");
    const listed = await loadPlugins(["@reprise/plugin-gcc", ["@reprise/plugin-sandbox-bwrap", { uid: 1000 }]], repo, silentLogger, { hermetic: "bwrap,docker" });
    expect(names(listed)).toEqual(["@reprise/plugin-gcc", "@reprise/plugin-sandbox-bwrap", "@reprise/plugin-sandbox-docker"]);
    const none = await loadPlugins(["@reprise/plugin-gcc"], repo, silentLogger);
    expect(names(none)).toEqual(["@reprise/plugin-gcc"]);
  });

  it("a loaded sandbox plugin answers createSandbox for its name", async () => {
    const plugin = await loadSandboxPlugin("@reprise/plugin-sandbox-bwrap", repo, silentLogger);
    const engine = new Engine().use(plugin!);
    expect(engine.hooks.createSandbox.call({ name: "bwrap" })?.name).toBe("bwrap");
    expect(await loadSandboxPlugin("@reprise/plugin-sandbox-nonexistent", repo, silentLogger)).toBeUndefined();
  });
});

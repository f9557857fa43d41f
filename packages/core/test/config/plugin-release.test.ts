import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadPlugins } from "../../src/config/load-plugins.js";
import { Engine } from "../../src/engine/engine.js";
import { silentLogger } from "../../src/util/logger.js";

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function project(): string {
  root = mkdtempSync(join(tmpdir(), "reprise-plugin-release-"));
  chmodSync(root, 0o755);
  return root;
}

/** A package `probe-plugin` of `version` (none: undefined) under `dir`/node_modules exporting `source`. */
function packagePlugin(dir: string, version: string | undefined, source = `export default { name: "probe", apply() {} };\n`): void {
  const pkg = join(dir, "node_modules", "probe-plugin");
  mkdirSync(join(pkg, "dist"), { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "probe-plugin", type: "module", main: "dist/index.js", ...(version ? { version } : {}) }));
  writeFileSync(join(pkg, "dist", "index.js"), source);
}

async function releases(specs: string[], dir: string): Promise<string[]> {
  const engine = new Engine();
  for (const p of await loadPlugins(specs, dir, silentLogger)) engine.use(p);
  return engine.pluginReleases();
}

describe("a loaded plugin's release, in the keys of what the daemon keeps across restarts", () => {
  it("is the version of the package the plugin came from", async () => {
    const a = join(project(), "a");
    const b = join(root, "b");
    packagePlugin(a, "1.2.3");
    packagePlugin(b, "1.3.0");
    expect(await releases(["probe-plugin"], a)).toEqual(["probe@1.2.3"]);
    expect(await releases(["probe-plugin"], b)).toEqual(["probe@1.3.0"]);
  });

  it("is the plugin's own version when it says one", async () => {
    const dir = project();
    packagePlugin(dir, "1.2.3", `export default { name: "probe", version: "9.9.9", apply() {} };\n`);
    expect(await releases(["probe-plugin"], dir)).toEqual(["probe@9.9.9"]);
  });

  it("is a digest of the file for a plugin named by path (or a package without a version): an edit is a new release", async () => {
    const a = join(project(), "a");
    const b = join(root, "b");
    for (const [dir, n] of [[a, 1], [b, 2]] as const) {
      mkdirSync(dir);
      writeFileSync(join(dir, "probe.mjs"), `export default { name: "probe", apply() {} }; // ${n}\n`);
    }
    const [ra, rb] = [await releases(["./probe.mjs"], a), await releases(["./probe.mjs"], b)];
    expect(ra[0]).toMatch(/^probe@sha256:[0-9a-f]{16}$/);
    expect(rb[0]).toMatch(/^probe@sha256:[0-9a-f]{16}$/);
    expect(ra).not.toEqual(rb);
    const c = join(root, "c");
    packagePlugin(c, undefined);
    expect((await releases(["probe-plugin"], c))[0]).toMatch(/^probe@sha256:/);
  });

  it("is unknown for a plugin made in code without a version; names given pick plugins in their order", () => {
    const engine = new Engine();
    engine.use({ name: "inline", apply() {} }).use({ name: "other", version: "2.0.0", apply() {} });
    expect(engine.pluginReleases()).toEqual(["inline@?", "other@2.0.0"]);
    expect(engine.pluginReleases(["other", "not-a-plugin"])).toEqual(["other@2.0.0", "not-a-plugin"]);
  });
});

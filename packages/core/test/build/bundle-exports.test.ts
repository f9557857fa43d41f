import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * Every public entry of @reprise/core resolves into the bundle the daemon and
 * the Node client run (scripts/bundle.mjs): an entry left pointing at tsc's
 * separate modules would load a second copy of core beside the daemon's in
 * every plugin that imports it.
 */
const CORE = join(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(join(CORE, "package.json"), "utf8")) as { main: string; exports: Record<string, string | { types: string; default: string }>; files: string[] };

describe("core's package entries", () => {
  it("point into dist/bundle, which the build made, with tsc's types beside", () => {
    const entries = Object.entries(pkg.exports).filter(([name]) => name !== "./package.json");
    expect(entries.length).toBeGreaterThanOrEqual(5);
    for (const [name, target] of entries) {
      if (typeof target === "string") throw new Error(`${name} has no types/default pair`);
      expect(target.default, name).toMatch(/^\.\/dist\/bundle\/[a-z-]+\.js$/);
      expect(existsSync(join(CORE, target.default)), `${name}: ${target.default}`).toBe(true);
      expect(existsSync(join(CORE, target.types)), `${name}: ${target.types}`).toBe(true);
    }
    expect(pkg.main).toBe("dist/bundle/index.js");
  });

  it("the daemon runs one script (through its code cache), the Node client the ES modules", () => {
    expect(readFileSync(join(CORE, "dist/daemon/entry.js"), "utf8")).toContain('"../bundle/daemon.cjs"');
    expect(readFileSync(join(CORE, "dist/bin/reprise.js"), "utf8")).toContain('"../bundle/client.js"');
    for (const f of ["daemon.cjs", "client.js"]) expect(existsSync(join(CORE, "dist/bundle", f)), f).toBe(true);
    // A function taken from a code cache has no loader for import(): every call goes through the script's parameter.
    const script = readFileSync(join(CORE, "dist/bundle/daemon.cjs"), "utf8");
    expect(script).not.toMatch(/(?<![\w$.])import\s*\(/);
    expect(script).toContain("__repriseImport(");
  });

  it("each public entry offers the same names in the daemon's script as in the ES modules", async () => {
    const daemon = createRequire(import.meta.url)(join(CORE, "dist/bundle/daemon.cjs")) as Record<string, object>;
    for (const [name, target] of Object.entries(pkg.exports).filter(([n]) => n !== "./package.json")) {
      if (typeof target === "string") throw new Error(`${name} has no types/default pair`);
      const entry = target.default.replace(/^\.\/dist\/bundle\/|\.js$/g, "");
      // Outside a daemon the entry re-exports the ES modules.
      const module = (await import(pathToFileURL(join(CORE, target.default)).href)) as object;
      const esm = (await import(pathToFileURL(join(CORE, `dist/bundle/esm-${entry}.js`)).href)) as object;
      expect(Object.keys(module).sort(), name).toEqual(Object.keys(esm).sort());
      expect(Object.keys(daemon[entry]!).sort(), name).toEqual(Object.keys(esm).sort());
    }
  });
});

/**
 * The default compiler plugins are bundled too (scripts/bundle-plugins.mjs):
 * their own modules only, every package they import left to Node's resolution,
 * so core (and plugin-gcc under plugin-clang, plugin-rustc under plugin-rustup)
 * stays one copy in the daemon.
 */
describe("the default plugins' package entries", () => {
  for (const name of ["plugin-gcc", "plugin-clang", "plugin-rustc", "plugin-rustup"]) {
    it(`${name} points into its dist/bundle, which holds none of another package's modules`, () => {
      const dir = join(CORE, "..", name);
      const plugin = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as typeof pkg;
      expect(plugin.main).toBe("dist/bundle/index.js");
      for (const [entry, target] of Object.entries(plugin.exports).filter(([e]) => e !== "./package.json")) {
        if (typeof target === "string") throw new Error(`${entry} has no types/default pair`);
        expect(target.default, entry).toMatch(/^\.\/dist\/bundle\/[a-z-]+\.js$/);
        const code = readFileSync(join(dir, target.default), "utf8");
        expect(existsSync(join(dir, target.types)), `${entry}: ${target.types}`).toBe(true);
        // esbuild heads each bundled module with a comment naming its file.
        expect(code).not.toMatch(new RegExp(`^// (?!packages/${name}/dist/)\\S+\\.js$`, "m"));
      }
    });
  }
});

import { cosmiconfig, defaultLoaders, type Loader } from "cosmiconfig";
import { createRequire } from "node:module";
import { statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { MODULE_NAME, SEARCH_PLACES } from "./config-locator.js";

const requireHere = createRequire(import.meta.url);

/**
 * Imports a JavaScript config as it is now: the module URL carries the
 * file's stat identity, so an edited file is imported afresh rather than
 * served from Node's module cache.
 */
const loadJsFresh: Loader = async (filepath) => {
  const st = statSync(filepath);
  const version = `${st.ino}-${st.size}-${st.mtimeMs}-${st.ctimeMs}`;
  // A CommonJS file imported from ESM is cached by path in require.cache.
  delete requireHere.cache[filepath];
  const mod = (await import(`${pathToFileURL(filepath).href}?v=${version}`)) as { default?: unknown };
  return mod.default;
};

const explorer = cosmiconfig(MODULE_NAME, {
  searchPlaces: [...SEARCH_PLACES],
  cache: false,
  loaders: { ...defaultLoaders, ".js": loadJsFresh, ".mjs": loadJsFresh, ".cjs": loadJsFresh },
});

/** The contents of one config file (undefined when it is empty or a package.json without the key). */
export async function readConfigFile(path: string): Promise<unknown> {
  const result = await explorer.load(path);
  if (!result || result.isEmpty) return undefined;
  return result.config;
}

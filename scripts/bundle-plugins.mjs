#!/usr/bin/env node
// Bundles each first-party compiler plugin's own modules into its
// dist/bundle/ (the package's exports point there): a daemon loads the four
// default plugins at start, and ~50 separate modules cost 33-45 ms of it.
// Every package the plugin imports stays external (core, a sibling plugin,
// execa): resolved as npm installed it, so there is still one copy of core
// and of each plugin per process. Run by `npm run build` after tsc.
import { fileURLToPath } from "node:url";
import { bundleDist } from "../packages/core/scripts/bundle-dist.mjs";

/** Package folder → output name → the tsc output it starts from. Keep in step with each package.json's exports. */
export const PLUGIN_BUNDLES = {
  "plugin-gcc": { index: "index.js" },
  "plugin-clang": { index: "index.js" },
  "plugin-rustc": { index: "index.js" },
  "plugin-rustup": { index: "index.js", provider: "provider/index.js" },
};

for (const [dir, entries] of Object.entries(PLUGIN_BUNDLES)) {
  await bundleDist(fileURLToPath(new URL(`../packages/${dir}/dist/`, import.meta.url)), entries, { packages: "external" });
}

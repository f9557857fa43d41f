#!/usr/bin/env node
// Bundles what tsc wrote to dist/ into dist/bundle/: one ES module per entry
// the package exports, the daemon's and the Node client's, and chunks they
// share. A fresh daemon then loads a few files instead of ~270 (its start is
// mostly Node's module loader), and a plugin's `import "@reprise/core"` (the
// package's exports point here) reaches the very modules the daemon runs:
// one copy of core per process, so classes, hooks and module state are shared.
// Every output sits one level below dist/, as tsc's files do, so paths made
// from import.meta.url (../native/reprise-native, ../../bin/reprise) hold.
import { fileURLToPath } from "node:url";
import { bundleDist } from "./bundle-dist.mjs";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));

/** Output name → the tsc output it starts from. Keep in step with package.json's exports. */
export const BUNDLE_ENTRIES = {
  index: "index.js",
  errors: "util/errors.js",
  logger: "util/logger.js",
  "sandbox-kit": "sandbox/kit/index.js",
  "plugin-kit": "plugin-kit/index.js",
  daemon: "daemon/daemon-process.js",
  client: "bin/client-main.js",
};

await bundleDist(dist, BUNDLE_ENTRIES, {
  // The TypeScript compiler is only ever loaded by cosmiconfig for a .ts config, and is the user's.
  external: ["typescript"],
  // CommonJS dependencies call require() for Node's own modules and read __filename (cosmiconfig's
  // import-fresh); an ES module has none of these of its own.
  banner: {
    js: [
      'import { createRequire as __repriseCreateRequire } from "node:module";',
      'import { fileURLToPath as __repriseFileURLToPath } from "node:url";',
      "const require = __repriseCreateRequire(import.meta.url);",
      "const __filename = __repriseFileURLToPath(import.meta.url);",
      'const __dirname = __filename.slice(0, __filename.lastIndexOf("/"));',
    ].join(" "),
  },
});

#!/usr/bin/env node
// Bundles what tsc wrote to dist/ into dist/bundle/: one ES module per entry
// the package exports, the daemon's and the Node client's, and chunks they
// share. A fresh daemon then loads a few files instead of ~270 (its start is
// mostly Node's module loader), and a plugin's `import "@reprise/core"` (the
// package's exports point here) reaches the very modules the daemon runs:
// one copy of core per process, so classes, hooks and module state are shared.
// Every output sits one level below dist/, as tsc's files do, so paths made
// from import.meta.url (../native/reprise-native, ../../bin/reprise) hold.
import { build } from "esbuild";
import { renameSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const target = `${dist}bundle`;
// Built beside it and swapped in: a daemon or client starting meanwhile never finds it half written.
const outdir = `${dist}bundle.new`;

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

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: Object.fromEntries(Object.entries(BUNDLE_ENTRIES).map(([name, file]) => [name, dist + file])),
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunk-[hash]",
  // Class and function names are part of error reports and logs.
  keepNames: true,
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
  legalComments: "inline",
  logLevel: "warning",
});
rmSync(`${dist}bundle.old`, { recursive: true, force: true });
try {
  renameSync(target, `${dist}bundle.old`);
} catch (err) {
  if (err.code !== "ENOENT") throw err;
}
renameSync(outdir, target);
rmSync(`${dist}bundle.old`, { recursive: true, force: true });

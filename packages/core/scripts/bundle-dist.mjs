// Bundles a package's tsc output (dist/) into dist/bundle/ with esbuild: one
// ES module per entry and the chunks they share, built beside the old bundle
// and swapped in, so a daemon or client starting meanwhile never finds it
// half written. Used for core (scripts/bundle.mjs) and the first-party
// plugins (the repository's scripts/bundle-plugins.mjs).
import { build } from "esbuild";
import { renameSync, rmSync } from "node:fs";

/**
 * zod re-exports every translation of its messages as a namespace (`z.locales`,
 * `z.core.locales`), which esbuild cannot tree-shake: ~60 modules a daemon
 * parsed and ran at every start, none of them used (zod's messages stay
 * English, set by its own `schemas.js`; nothing here calls `z.locales`). Only
 * `en` is kept in that namespace.
 */
const englishOnlyZod = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? { path: args.resolveDir.replace(/[\\/](classic|core)$/, "/locales/index.js"), namespace: "zod-english-only" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-english-only" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: args.path.slice(0, args.path.lastIndexOf("/")),
    }));
  },
};

/** esbuild's options for every bundle here, under `options`. */
function withDefaults(options) {
  return {
    bundle: true,
    platform: "node",
    target: "node20",
    // Class and function names are part of error reports and logs.
    keepNames: true,
    legalComments: "inline",
    logLevel: "warning",
    ...options,
    plugins: [englishOnlyZod, ...(options.plugins ?? [])],
  };
}

/**
 * Fills `${dist}bundle` through `fill(outdir)`, which writes into a folder
 * beside it; the new folder is then swapped in whole.
 */
export async function swapBundle(dist, fill) {
  const target = `${dist}bundle`;
  const outdir = `${dist}bundle.new`;
  rmSync(outdir, { recursive: true, force: true });
  await fill(outdir);
  rmSync(`${dist}bundle.old`, { recursive: true, force: true });
  try {
    renameSync(target, `${dist}bundle.old`);
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
  }
  renameSync(outdir, target);
  rmSync(`${dist}bundle.old`, { recursive: true, force: true });
}

/**
 * ES modules, one per entry, and the chunks they share, into `outdir`:
 * `dist`: the package's dist folder (ending in "/"); `entries`: output name →
 * the tsc output it starts from, relative to `dist`. `options` are esbuild's,
 * on top of these defaults. Returns esbuild's result (its metafile when asked).
 */
export function buildModules(dist, entries, outdir, options = {}) {
  return build(
    withDefaults({
      entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, dist + file])),
      outdir,
      splitting: true,
      format: "esm",
      chunkNames: "chunk-[hash]",
      ...options,
    }),
  );
}

/** One CommonJS script at `outfile` from the ES module source `contents` (resolved from `resolveDir`). */
export function buildScript(contents, resolveDir, outfile, options = {}) {
  return build(withDefaults({ stdin: { contents, resolveDir, sourcefile: "script-entry.js", loader: "js" }, outfile, format: "cjs", ...options }));
}

/** `bundleDist`: the ES modules of `buildModules`, swapped in as `${dist}bundle`. */
export async function bundleDist(dist, entries, options = {}) {
  await swapBundle(dist, (outdir) => buildModules(dist, entries, outdir, options));
}

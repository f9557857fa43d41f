// Bundles a package's tsc output (dist/) into dist/bundle/ with esbuild: one
// ES module per entry and the chunks they share, built beside the old bundle
// and swapped in, so a daemon or client starting meanwhile never finds it
// half written. Used for core (scripts/bundle.mjs) and the first-party
// plugins (the repository's scripts/bundle-plugins.mjs).
import { build } from "esbuild";
import { renameSync, rmSync } from "node:fs";

/**
 * `dist`: the package's dist folder (ending in "/"); `entries`: output name →
 * the tsc output it starts from, relative to `dist`. `options` are esbuild's,
 * on top of these defaults.
 */
export async function bundleDist(dist, entries, options = {}) {
  const target = `${dist}bundle`;
  const outdir = `${dist}bundle.new`;
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, dist + file])),
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    chunkNames: "chunk-[hash]",
    // Class and function names are part of error reports and logs.
    keepNames: true,
    legalComments: "inline",
    logLevel: "warning",
    ...options,
  });
  rmSync(`${dist}bundle.old`, { recursive: true, force: true });
  try {
    renameSync(target, `${dist}bundle.old`);
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
  }
  renameSync(outdir, target);
  rmSync(`${dist}bundle.old`, { recursive: true, force: true });
}

#!/usr/bin/env node
// What a call pays to find its config and its project's engine (docs/security.md):
// a stat per directory up the tree and of the config file, then two map lookups.
// Run after `npm run build`: node bench/settings-per-call.mjs
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const dist = resolve(import.meta.dirname, "../packages/core/dist");
const { SettingsLoader } = await import(join(dist, "config/load-settings.js"));
const { ProjectEngines } = await import(join(dist, "daemon/project-engines.js"));
const { FileHashCache } = await import(join(dist, "hashing/file-hash-cache.js"));
const { Stats } = await import(join(dist, "stats/stats.js"));
const { silentLogger } = await import(join(dist, "util/logger.js"));

const N = 20_000;
const root = mkdtempSync(resolve(import.meta.dirname, "../.bench-work-settings-"));
try {
  const cwd = join(root, "proj", "src", "sub");
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(root, "proj", ".repriserc.json"), JSON.stringify({ cacheSize: "1G" }));
  const env = { ...process.env, HOME: root };
  const loader = new SettingsLoader();
  const projects = new ProjectEngines({ hashes: new FileHashCache(), stats: new Stats(), settings: loader, logger: silentLogger });
  const perCall = async (touch) => {
    for (let i = 0; i < 1000; i++) await projects.for(await loader.load(cwd, env), cwd);
    let spent = 0n;
    for (let i = 0; i < N; i++) {
      // A hit renames the object into the cwd: the directory's mtime changes and its listing is checked again.
      if (touch) writeFileSync(join(cwd, "a.o"), "x");
      const t = process.hrtime.bigint();
      await projects.for(await loader.load(cwd, env), cwd);
      spent += process.hrtime.bigint() - t;
    }
    return Number(spent) / N / 1000;
  };
  for (const [label, touch] of [["cwd unchanged", false], ["cwd changed before each call", true]]) {
    const runs = [];
    for (let r = 0; r < 5; r++) runs.push(await perCall(touch));
    runs.sort((a, b) => a - b);
    console.log(`${label}: median ${runs[2].toFixed(1)} µs per call (min ${runs[0].toFixed(1)}), config 2 directories up`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

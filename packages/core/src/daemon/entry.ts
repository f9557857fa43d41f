#!/usr/bin/env node
// Process entry of the background daemon, spawned detached by the client. It
// runs dist/bundle/daemon.cjs (made by scripts/bundle.mjs: the daemon and
// every public entry of core in one script) through a V8 code cache, and
// publishes that script's entries before any plugin loads: `@reprise/core`'s
// modules re-export them in a daemon, so the plugins share one copy of core
// with it.
import { fileURLToPath } from "node:url";
import { runtimeDir } from "../util/paths.js";
import { loadCachedScript } from "./code-cache.js";
import { DAEMON_CORE_KEY, type DaemonScript } from "./daemon-script.js";

/** When the code cache is written: after start-up and the first calls, so their functions are in it too. */
const SAVE_CACHE_AFTER_MS = 3000;

let cacheDir: string | undefined;
try {
  cacheDir = runtimeDir();
} catch {
  // No user name to make it from: the daemon says so itself.
}
const script = loadCachedScript<DaemonScript>(fileURLToPath(new URL("../bundle/daemon.cjs", import.meta.url)), cacheDir);
(globalThis as Record<symbol, unknown>)[Symbol.for(DAEMON_CORE_KEY)] = script.exports;
script.exports.runDaemonProcess();
if (script.cache !== "accepted") setTimeout(() => script.save(), SAVE_CACHE_AFTER_MS).unref();

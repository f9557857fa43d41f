import { mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import pLimit from "p-limit";
import { Engine } from "../engine/engine.js";
import { CompileService } from "../engine/compile-service.js";
import { CompilerDetector } from "../engine/compiler-detector.js";
import { FileHashCache } from "../hashing/file-hash-cache.js";
import { SettingsLoader } from "../config/load-settings.js";
import { loadPlugins, loadSandboxPlugin, SANDBOX_PLUGINS } from "../config/load-plugins.js";
import { StorageRegistry } from "../storage/storage-registry.js";
import { localStoragePlugin } from "../storage/local-storage-plugin.js";
import { Stats } from "../stats/stats.js";
import { fileSink, Logger } from "../util/logger.js";
import { daemonLockPath, daemonLogPath, runtimeDir, socketPath } from "../util/paths.js";
import { DaemonLock } from "./daemon-lock.js";
import { daemonTempDir, removeLeftovers } from "./leftovers.js";
import { ensurePrivateDir } from "./runtime-dir.js";
import { clearStartupFailure, recordStartupFailure } from "./startup-failure.js";
import { reprisesOwnExecutables } from "./self-paths.js";
import { DaemonServer } from "./server.js";
import { createHermeticCompiler } from "./hermetic-setup.js";
import { hermeticPlugin } from "../hermetic/hermetic-plugin.js";
import { distClientLoader } from "./dist-loader.js";

/**
 * Starts the daemon in this process. Daemon-wide settings (plugins, job
 * limit, idle timeout, log level) come from the config and environment it is
 * started with; per-call settings (cache dir, size, key mode) from each call's.
 */
export async function startDaemon(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<DaemonServer | undefined> {
  const runtime = runtimeDir(env);
  // Nothing is written to a runtime directory before it is known to be the user's alone.
  ensurePrivateDir(runtime);
  let lock: DaemonLock | undefined;
  try {
    const server = await startIn(runtime, env, cwd, (l) => (lock = l));
    if (server) clearStartupFailure(runtime);
    return server;
  } catch (err) {
    recordStartupFailure(runtime, err, cwd, env);
    lock?.release();
    throw err;
  }
}

async function startIn(runtime: string, env: NodeJS.ProcessEnv, cwd: string, locked: (lock: DaemonLock) => void): Promise<DaemonServer | undefined> {
  const settingsLoader = new SettingsLoader();
  const settings = await settingsLoader.load(cwd, env as Record<string, string>);
  const logger = new Logger(settings.logLevel === "error" ? "warn" : settings.logLevel, fileSink(daemonLogPath(runtime)), "daemon");
  const lockPath = daemonLockPath(runtime);
  const lock = await DaemonLock.acquire(lockPath);
  if (!lock) {
    logger.info("another daemon holds %s; exiting", lockPath);
    return undefined;
  }
  locked(lock);
  const leftovers = removeLeftovers(runtime);
  if (leftovers.length) logger.info("removed leftovers of killed daemons: %s", leftovers.join(", "));
  const tempDir = daemonTempDir(runtime);
  // Not recursive: mkdir fails on anything already there (a planted symlink included) instead of using it.
  rmSync(tempDir, { recursive: true, force: true });
  mkdirSync(tempDir, { mode: 0o700 });

  const engine = new Engine(logger.child("engine"));
  engine.use(localStoragePlugin);
  const pluginBase = settings.configFile ? dirname(settings.configFile) : cwd;
  for (const plugin of await loadPlugins(settings.plugins, pluginBase, logger, { hermetic: settings.hermetic })) engine.use(plugin);

  const hashes = new FileHashCache();
  const stats = new Stats(join(runtime, "stats.json"));
  const storages = new StorageRegistry(engine);
  // Hermetic mode is chosen per call (REPRISE_HERMETIC, `hermetic`): a sandbox named only later loads its first-party plugin then.
  const hermetic = createHermeticCompiler({
    engine,
    hashes,
    stats,
    settings: settingsLoader,
    logger: logger.child("hermetic"),
    loadSandboxPlugin: async (name) => {
      const pkg = SANDBOX_PLUGINS[name];
      const plugin = pkg ? await loadSandboxPlugin(pkg, pluginBase, logger) : undefined;
      if (plugin) engine.use(plugin);
    },
  });
  engine.use(hermeticPlugin(hermetic));
  const service = new CompileService({
    engine,
    settings: settingsLoader,
    storages,
    detector: new CompilerDetector(engine, hashes),
    hashes,
    stats,
    limit: pLimit(settings.maxJobs),
    selfPaths: reprisesOwnExecutables(),
    tempDir,
    logger: logger.child("compile"),
    prepareMiss: distClientLoader(engine, pluginBase, logger),
  });
  const server = new DaemonServer({
    socketPath: socketPath(runtime),
    service,
    stats,
    storages,
    logger,
    idleTimeoutSec: settings.idleTimeoutSec,
    onStopped: () => {
      rmSync(tempDir, { recursive: true, force: true });
      lock.release();
      process.exit(0);
    },
  });
  await server.listen();
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(sig, () => void server.stop(sig));
  return server;
}

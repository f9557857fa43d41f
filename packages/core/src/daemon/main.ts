import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import pLimit from "p-limit";
import { CompileService } from "../engine/compile-service.js";
import { PersistedDigests } from "../hashing/persisted-digests.js";
import { PersistedTexts } from "../hashing/persisted-texts.js";
import { rememberedDetections } from "../engine/compiler-detector.js";
import { rememberedSearches } from "../engine/include-search.js";
import { StampClock } from "../hashing/racy-window.js";
import { FileHashCache } from "../hashing/file-hash-cache.js";
import { SettingsLoader } from "../config/load-settings.js";
import { Stats } from "../stats/stats.js";
import { fileSink, Logger } from "../util/logger.js";
import { daemonLockPath, daemonLogPath, runtimeDir, socketPath } from "../util/paths.js";
import { DaemonLock } from "./daemon-lock.js";
import { daemonTempDir, removeLeftovers } from "./leftovers.js";
import { ensurePrivateDir } from "./runtime-dir.js";
import { clearStartupFailure, recordStartupFailure } from "./startup-failure.js";
import { reprisesOwnExecutables } from "./self-paths.js";
import { DaemonServer } from "./server.js";
import { ProjectEngines } from "./project-engines.js";
import { HitIndex } from "../hit-index/hit-index.js";
import { useSpawnHelper } from "../engine/run-compiler.js";
import { SpawnHelper } from "../engine/spawn-helper.js";
import { nativeClientPath } from "../client/native-client-path.js";

/**
 * Starts the daemon in this process. Daemon-wide settings (job limit, idle
 * timeout, log level) come from the config and environment it is started
 * with; everything else, plugins included, from each call's own config.
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

  // Compilers are spawned by a small helper process: fork() from this large one costs milliseconds more per miss.
  const launcher = env.REPRISE_SPAWN_HELPER === "0" ? undefined : nativeClientPath();
  useSpawnHelper(launcher ? new SpawnHelper(launcher, tempDir, logger.child("launcher")) : undefined);

  // Its clock stamps a file in the daemon's own directory (racy-window.ts), not in a shared /tmp.
  const hashes = new FileHashCache(undefined, new StampClock(tempDir));
  // A fresh daemon must not hash a toolchain again: large files' hashes are kept in the cache directory.
  const persistedDigests = new PersistedDigests(settings.dir, (err) => logger.debug("file digests in %s: %s", settings.dir, err.message));
  hashes.persistLargeFiles(persistedDigests);
  // Nor read every header through the plugin's lexer again: text digests are kept too, by content.
  const persistedTexts = new PersistedTexts(settings.dir, (err) => logger.debug("text digests in %s: %s", settings.dir, err.message));
  hashes.persistTexts(persistedTexts);
  const stats = new Stats(join(runtime, "stats.json"));
  // Each call runs through the engine of its own project's config, as of that call.
  // Nor probe its compilers again: what the plugins said about each is kept there too.
  const detections = rememberedDetections(settings.dir, (err) => logger.debug("compiler detections in %s: %s", settings.dir, err.message));
  const projects = new ProjectEngines({ hashes, stats, settings: settingsLoader, logger, detections });
  // And the include searches (`cc -E -v`) of the option sets it met.
  const includeSearches = rememberedSearches(settings.dir, (err) => logger.debug("include searches in %s: %s", settings.dir, err.message));
  const hitIndex = new HitIndex(runtime, hashes, stats, logger.child("hit-index"));
  hitIndex.start();
  // The starting project's plugins load now: the first call does not wait for them, and one that cannot load fails the start as a bad config does.
  await projects.for(settings, cwd);
  const service = new CompileService({
    settings: settingsLoader,
    projects,
    hashes,
    stats,
    limit: pLimit(settings.maxJobs),
    selfPaths: reprisesOwnExecutables(),
    tempDir,
    logger: logger.child("compile"),
    hitIndex,
    includeSearches,
  });
  const server = new DaemonServer({
    socketPath: socketPath(runtime),
    service,
    stats,
    storages: projects,
    logger,
    idleTimeoutSec: settings.idleTimeoutSec,
    hitIndex,
    onStopped: () => {
      persistedDigests.flush();
      persistedTexts.flush();
      detections.flush();
      includeSearches.flush();
      rmSync(tempDir, { recursive: true, force: true });
      lock.release();
      process.exit(0);
    },
  });
  await server.listen();
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(sig, () => void server.stop(sig));
  return server;
}

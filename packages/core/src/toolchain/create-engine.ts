import { dirname } from "node:path";
import { Engine } from "../engine/engine.js";
import { CompilerDetector } from "../engine/compiler-detector.js";
import { FileHashCache } from "../hashing/file-hash-cache.js";
import { loadPlugins } from "../config/load-plugins.js";
import { SettingsLoader } from "../config/load-settings.js";
import type { Settings } from "../config/schema.js";
import { localStoragePlugin } from "../storage/local-storage-plugin.js";
import { Logger, silentLogger } from "../util/logger.js";

export interface EngineSetup {
  engine: Engine;
  settings: Settings;
  settingsLoader: SettingsLoader;
  detector: CompilerDetector;
  hashes: FileHashCache;
}

export interface CreateEngineOptions {
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
  /** Settings already loaded (the daemon loads them before it has a logger); loaded from `cwd`/`env` otherwise. */
  settings?: Settings;
  settingsLoader?: SettingsLoader;
}

/**
 * An engine as the daemon builds one: the built-in local storage, then the
 * plugins the settings name (or the installed first-party ones), resolved from
 * the config file's directory; with a compiler detector and a file hash cache.
 */
export async function createEngine(options: CreateEngineOptions = {}): Promise<EngineSetup> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const logger = options.logger ?? silentLogger;
  const settingsLoader = options.settingsLoader ?? new SettingsLoader();
  const settings = options.settings ?? (await settingsLoader.load(cwd, env));
  const engine = new Engine(logger.child("engine"));
  engine.use(localStoragePlugin);
  const pluginBase = settings.configFile ? dirname(settings.configFile) : cwd;
  for (const plugin of await loadPlugins(settings.plugins, pluginBase, logger)) engine.use(plugin);
  const hashes = new FileHashCache();
  return { engine, settings, settingsLoader, detector: new CompilerDetector(engine, hashes), hashes };
}

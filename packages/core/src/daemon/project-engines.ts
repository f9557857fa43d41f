import { dirname, isAbsolute } from "node:path";
import { LRUCache } from "lru-cache";
import { Engine } from "../engine/engine.js";
import { CompilerDetector, type RememberedDetections } from "../engine/compiler-detector.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { HermeticCompiler } from "../hermetic/hermetic-compiler.js";
import type { SettingsLoader } from "../config/load-settings.js";
import type { Settings } from "../config/schema.js";
import { loadFirstPartyPlugin, loadPlugins, loadSandboxPlugin, SANDBOX_PLUGINS, STORAGE_PLUGINS } from "../config/load-plugins.js";
import type { ReprisePlugin } from "../engine/plugin.js";
import type { CacheStorage, StorageSettings } from "../storage/cache-storage.js";
import { StorageRegistry } from "../storage/storage-registry.js";
import { createLocalDiskStorage } from "../storage/local-disk-storage.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import { createHermeticCompiler } from "./hermetic-setup.js";
import { hermeticPlugin } from "../hermetic/hermetic-plugin.js";
import { distClientLoader } from "./dist-loader.js";

/** Engines kept at once; the least recently used project's is rebuilt when it calls again. */
const MAX_PROJECTS = 32;

/** Everything a call runs through that a project's plugins make up: its own engine and what hangs off it. */
export interface Project {
  engine: Engine;
  detector: CompilerDetector;
  storages: StorageRegistry;
  /** Compiles misses in a sandbox when the call's settings ask for it (`hermetic`); tapped on the engine's `compileMiss`. */
  hermetic?: HermeticCompiler;
  /**
   * Called before a miss is compiled: when the call's settings configure a
   * build farm (`dist`), loads this project's farm client plugin (a
   * `compileMiss` tap) if it is not loaded yet, under the same trust rules as
   * every plugin.
   */
  prepareMiss?: (settings: Settings) => Promise<void>;
}

export interface ProjectEnginesOptions {
  hashes: FileHashCache;
  /** Compiler detections kept across daemon restarts (the daemon's cache directory); none: probed by each daemon. */
  detections?: RememberedDetections;
  stats: Stats;
  settings: SettingsLoader;
  logger: Logger;
}

/**
 * One engine per project, so that a project's plugins only ever see that
 * project's calls, and a call runs with the plugins its own config lists as
 * of that call. A project is the config file in its current version (path
 * and stat identity: an edit gives a new engine) with the plugin settings in
 * force; calls without a config file share one engine unless they name
 * plugins by relative path. Built on first use, least recently used dropped.
 */
export class ProjectEngines {
  private readonly projects: LRUCache<string, Promise<Project>>;
  private readonly built = new Map<string, Project>();
  private readonly keys = new WeakMap<Settings, string>();
  /**
   * The built-in local store is core's, not a project's: one per cache
   * directory for the whole daemon, so projects sharing a cache share its
   * index, size accounting and remembered entries.
   */
  private readonly localStores = new Map<string, CacheStorage>();
  private readonly localStorage: ReprisePlugin = {
    name: "reprise:local-storage",
    apply: (engine) => {
      engine.hooks.createStorage.tap("reprise:local-storage", (settings) => (settings.kind === "local" ? this.localStore(settings) : undefined));
    },
  };

  constructor(private readonly o: ProjectEnginesOptions) {
    this.projects = new LRUCache<string, Promise<Project>>({
      max: MAX_PROJECTS,
      dispose: (_value, key) => {
        const project = this.built.get(key);
        this.built.delete(key);
        if (project) void project.storages.closeAll();
      },
    });
  }

  /** The project of a call with these settings (made in `cwd`). */
  for(settings: Settings, cwd: string): Promise<Project> {
    const key = this.keyOf(settings, cwd);
    let pending = this.projects.get(key);
    if (!pending) {
      pending = this.build(settings, cwd).then((project) => {
        if (this.projects.peek(key) === pending) this.built.set(key, project);
        return project;
      });
      this.projects.set(key, pending);
      // A plugin that failed to load is tried again by the next call (it may have been installed since).
      pending.catch(() => {
        if (this.projects.peek(key) === pending) this.projects.delete(key);
      });
    }
    return pending;
  }

  /** Every storage of every live project (for `--show-stats`). */
  all(): CacheStorage[] {
    return [...new Set([...this.localStores.values(), ...[...this.built.values()].flatMap((p) => p.storages.all())])];
  }

  async closeAll(): Promise<void> {
    // A project's registry closes its levels and the remote backends under them.
    await Promise.allSettled([...this.built.values()].map((p) => p.storages.closeAll()));
    await Promise.allSettled(this.all().map((s) => s.close()));
  }

  private localStore(settings: StorageSettings): CacheStorage {
    const key = `${settings.dir}\0${settings.maxSizeBytes}`;
    let store = this.localStores.get(key);
    if (!store) {
      store = createLocalDiskStorage(settings);
      this.localStores.set(key, store);
    }
    return store;
  }

  private keyOf(settings: Settings, cwd: string): string {
    let key = this.keys.get(settings);
    if (key === undefined) {
      const base = this.pluginBase(settings, cwd);
      key = JSON.stringify([settings.configFile ?? null, settings.configIdentity ?? null, settings.plugins, settings.hermetic ?? null, base]);
      this.keys.set(settings, key);
    }
    return key;
  }

  /**
   * Where plugin names are resolved from: the config file's directory; with
   * no config file, the call's directory only when a plugin is named by a
   * relative path (otherwise every such call shares one engine).
   */
  private pluginBase(settings: Settings, cwd: string): string | null {
    if (settings.configFile) return dirname(settings.configFile);
    const relative = settings.plugins.some((spec) => {
      const name = typeof spec === "string" ? spec : spec[0];
      return name.startsWith(".") && !isAbsolute(name);
    });
    return relative ? cwd : null;
  }

  private async build(settings: Settings, cwd: string): Promise<Project> {
    const base = this.pluginBase(settings, cwd) ?? cwd;
    const logger = this.o.logger.child("engine");
    const engine = new Engine(logger);
    engine.use(this.localStorage);
    for (const plugin of await loadPlugins(settings.plugins, base, logger, { hermetic: settings.hermetic })) engine.use(plugin);
    logger.debug("engine for %s: %s", settings.configFile ?? "calls without a config file", engine.plugins.map((p) => p.name).join(", "));
    const hermetic = createHermeticCompiler({
      engine,
      hashes: this.o.hashes,
      stats: this.o.stats,
      settings: this.o.settings,
      logger: this.o.logger.child("hermetic"),
      // Hermetic mode is chosen per call (REPRISE_HERMETIC): a sandbox named only later loads its first-party plugin then.
      loadSandboxPlugin: async (name) => {
        const pkg = SANDBOX_PLUGINS[name];
        const plugin = pkg ? await loadSandboxPlugin(pkg, base, logger) : undefined;
        if (plugin) engine.use(plugin);
      },
    });
    // Hermetic mode is a `compileMiss` tap (stage 100: a farm client is asked first).
    engine.use(hermeticPlugin(hermetic));
    const storages = new StorageRegistry(engine, {
      logger: this.o.logger.child("storage"),
      // A backend named only by a call's settings (REPRISE_REDIS_ENDPOINT, `levels`) loads its first-party plugin into this project's engine then, trust rules included.
      loadPlugin: async (kind) => {
        const pkg = STORAGE_PLUGINS[kind];
        const plugin = pkg ? await loadFirstPartyPlugin(pkg, base, logger) : undefined;
        if (plugin) engine.use(plugin);
      },
    });
    // Detections outlive the daemon per set of plugins (and their options): another set may answer otherwise.
    const remembered = this.o.detections ? { records: this.o.detections, plugins: JSON.stringify([settings.plugins, engine.pluginReleases()]) } : undefined;
    return { engine, detector: new CompilerDetector(engine, this.o.hashes, remembered), storages, hermetic, prepareMiss: distClientLoader(engine, base, logger) };
  }
}

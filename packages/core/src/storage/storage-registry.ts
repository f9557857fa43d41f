import type { Engine } from "../engine/engine.js";
import type { Settings } from "../config/schema.js";
import type { CacheStorage, StorageSettings } from "./cache-storage.js";
import { decodeEntry, decodeManifest } from "./codec.js";
import { GuardedLevel } from "./levels/guarded-level.js";
import { TieredStorage, type BlobCheck, type UnavailableLevel } from "./levels/tiered-storage.js";
import { RepriseError } from "../util/errors.js";
import { silentLogger, type Logger } from "../util/logger.js";

export interface StorageRegistryOptions {
  /** Loads the first-party plugin serving a backend kind (e.g. "redis"), if it is installed. */
  loadPlugin?: (kind: string) => Promise<void>;
  logger?: Logger;
}

/** A blob from a lower level is only trusted (and copied up) once it decodes. */
const checkBlob: BlobCheck = async (kind, key, data) => {
  try {
    // Entries are bound to their key: one stored under another key is foreign, a miss.
    await (kind === "result" ? decodeEntry(data, key) : decodeManifest(data, key));
    return true;
  } catch {
    return false;
  }
};

/**
 * The storages of the calls: one backend instance per (kind, directory,
 * size, options), and for settings with more than the plain local level, one
 * set of levels over them. Calls from projects with different settings get
 * their own.
 */
export class StorageRegistry {
  private readonly backends = new Map<string, CacheStorage>();
  private readonly tiers = new Map<string, TieredStorage>();
  /** Backends used as a call's whole storage (the plain local level), for stats. */
  private readonly direct = new Set<CacheStorage>();
  /** Settings objects are cached by the loader per (cwd, env): this makes the hit path a WeakMap lookup. */
  private readonly bySettings = new WeakMap<Settings, Promise<CacheStorage>>();
  private readonly logger: Logger;

  constructor(
    private readonly engine: Engine,
    private readonly o: StorageRegistryOptions = {},
  ) {
    this.logger = o.logger ?? silentLogger;
  }

  /** The storage of a call with these settings: its levels, or the one backend. */
  forSettings(settings: Settings): Promise<CacheStorage> {
    let storage = this.bySettings.get(settings);
    if (!storage) {
      storage = this.build(settings);
      this.bySettings.set(settings, storage);
      storage.catch(() => this.bySettings.delete(settings));
    }
    return storage;
  }

  /** One backend, created through the `createStorage` hook. */
  get(settings: StorageSettings): CacheStorage {
    const key = backendKey(settings);
    let storage = this.backends.get(key);
    if (!storage) {
      storage = this.engine.hooks.createStorage.call(settings);
      if (!storage) {
        throw new RepriseError(`no storage backend "${settings.kind}"`, "E_STORAGE", "install and list the plugin that provides it, or use \"local\"");
      }
      this.backends.set(key, storage);
    }
    return storage;
  }

  /** The storages calls use, as reported by `--show-stats`. */
  all(): CacheStorage[] {
    return [...this.direct, ...this.tiers.values()];
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.tiers.values()].map((t) => t.close()));
    await Promise.allSettled([...this.backends.values()].map((s) => s.close()));
  }

  private async build(settings: Settings): Promise<CacheStorage> {
    const { levels } = settings;
    const only = levels[0];
    if (levels.length === 1 && only && only.kind === "local" && !only.readOnly) {
      const storage = this.get(this.backendSettings(settings, only));
      this.direct.add(storage);
      return storage;
    }
    const key = JSON.stringify([settings.dir, settings.cacheSizeBytes, settings.remote, levels]);
    const existing = this.tiers.get(key);
    if (existing) return existing;

    const guarded: GuardedLevel[] = [];
    const unavailable: UnavailableLevel[] = [];
    for (const [index, spec] of levels.entries()) {
      const remote = spec.kind !== "local";
      let storage: CacheStorage;
      try {
        storage = await this.create(this.backendSettings(settings, spec));
      } catch (err) {
        // The local level is the cache itself: without it the call runs uncached, as before levels.
        if (!remote) throw err;
        const reason = (err as Error).message;
        this.logger.warn("cache level %d (%s) is not used: %s", index, spec.kind, reason);
        unavailable.push({ index, kind: spec.kind, readOnly: spec.readOnly, reason });
        continue;
      }
      guarded.push(
        new GuardedLevel(storage, {
          index,
          readOnly: spec.readOnly,
          remote,
          timeouts: { connectMs: settings.remote.connectTimeoutMs, requestMs: settings.remote.requestTimeoutMs },
          breaker: {
            errorThresholdPercent: settings.remote.breakerErrorPercent,
            volumeThreshold: settings.remote.breakerVolume,
            cooldownMs: settings.remote.breakerCooldownMs,
          },
          logger: this.logger,
        }),
      );
    }
    const tiered = new TieredStorage(guarded, unavailable, checkBlob, this.logger);
    this.tiers.set(key, tiered);
    return tiered;
  }

  /** A backend, loading the first-party plugin for its kind when no loaded plugin serves it. */
  private async create(settings: StorageSettings): Promise<CacheStorage> {
    try {
      return this.get(settings);
    } catch (err) {
      if (!(err instanceof RepriseError && err.code === "E_STORAGE") || !this.o.loadPlugin) throw err;
    }
    await this.o.loadPlugin(settings.kind);
    return this.get(settings);
  }

  private backendSettings(settings: Settings, spec: Settings["levels"][number]): StorageSettings {
    return {
      kind: spec.kind,
      dir: settings.dir,
      maxSizeBytes: settings.cacheSizeBytes,
      ...(spec.options ? { options: spec.options } : {}),
      ...(spec.kind === "local" ? {} : { timeouts: { connectMs: settings.remote.connectTimeoutMs, requestMs: settings.remote.requestTimeoutMs } }),
    };
  }
}

function backendKey(s: StorageSettings): string {
  return `${s.kind}\0${s.dir}\0${s.maxSizeBytes}\0${JSON.stringify(s.options ?? {})}\0${JSON.stringify(s.timeouts ?? {})}`;
}

import type { Engine } from "../engine/engine.js";
import type { CacheStorage, StorageSettings } from "./cache-storage.js";
import { RepriseError } from "../util/errors.js";

/** One storage per (backend, directory, size): calls from projects with different settings get their own. */
export class StorageRegistry {
  private readonly storages = new Map<string, CacheStorage>();

  constructor(private readonly engine: Engine) {}

  get(settings: StorageSettings): CacheStorage {
    const key = `${settings.kind}\0${settings.dir}\0${settings.maxSizeBytes}\0${JSON.stringify(settings.options ?? {})}`;
    let storage = this.storages.get(key);
    if (!storage) {
      storage = this.engine.hooks.createStorage.call(settings);
      if (!storage) {
        throw new RepriseError(`no storage backend "${settings.kind}"`, "E_STORAGE", "install and list the plugin that provides it, or use \"local\"");
      }
      this.storages.set(key, storage);
    }
    return storage;
  }

  all(): CacheStorage[] {
    return [...this.storages.values()];
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.all().map((s) => s.close()));
  }
}

import type { ReprisePlugin } from "@reprise/core";
import { MemcachedStorage } from "./memcached-storage.js";

export { MemcachedStorage } from "./memcached-storage.js";
export { parseMemcachedOptions, type MemcachedOptions } from "./options.js";

/** Serves storage levels of kind "memcached" (selected by `levels` or REPRISE_MEMCACHED_ENDPOINT). */
const plugin: ReprisePlugin = {
  name: "@reprise/storage-memcached",
  apply(engine) {
    engine.hooks.createStorage.tap("@reprise/storage-memcached", (settings) => (settings.kind === "memcached" ? new MemcachedStorage(settings) : undefined));
  },
};

export default plugin;

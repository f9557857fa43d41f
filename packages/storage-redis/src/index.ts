import type { ReprisePlugin } from "@reprise/core";
import { RedisStorage } from "./redis-storage.js";

export { RedisStorage } from "./redis-storage.js";
export { parseRedisOptions, type RedisOptions } from "./options.js";

/** Serves storage levels of kind "redis" (selected by `levels` or REPRISE_REDIS_ENDPOINT). */
const plugin: ReprisePlugin = {
  name: "@reprise/storage-redis",
  apply(engine) {
    engine.hooks.createStorage.tap("@reprise/storage-redis", (settings) => (settings.kind === "redis" ? new RedisStorage(settings) : undefined));
  },
};

export default plugin;

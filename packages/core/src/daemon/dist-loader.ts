import type { Settings } from "../config/schema.js";
import type { Engine } from "../engine/engine.js";
import { loadSandboxPlugin } from "../config/load-plugins.js";
import type { Logger } from "../util/logger.js";

/** The package whose `client` export is the farm client plugin (a `compileMiss` tap). */
export const DIST_CLIENT_PLUGIN = "@reprise/dist/client";

/**
 * Loads the farm client plugin the first time a miss's settings name a
 * scheduler (`dist.schedulerUrl`), so daemons that never use a farm never
 * load it. When it is not installed, the reason is logged once and misses
 * compile as without a farm.
 */
export function distClientLoader(engine: Engine, baseDir: string, logger: Logger): (settings: Settings) => Promise<void> {
  let loading: Promise<void> | undefined;
  return (settings) => {
    if (!settings.dist) return Promise.resolve();
    loading ??= (async () => {
      try {
        const plugin = await loadSandboxPlugin(DIST_CLIENT_PLUGIN, baseDir, logger);
        if (plugin) engine.use(plugin);
        else logger.warn("dist.schedulerUrl is set but %s is not installed (npm i @reprise/dist); compiling locally", DIST_CLIENT_PLUGIN);
      } catch (err) {
        logger.error("cannot load %s: %s; compiling locally", DIST_CLIENT_PLUGIN, (err as Error).message);
      }
    })();
    return loading;
  };
}

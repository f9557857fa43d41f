import { createHooks, type EngineHooks } from "./hooks.js";
import type { ReprisePlugin } from "./plugin.js";
import { Logger, silentLogger } from "../util/logger.js";

/**
 * The engine: a set of hooks and the plugins that tapped them. It knows no
 * compiler and no storage backend; `CompileService` drives a call through it.
 */
export class Engine {
  readonly hooks: EngineHooks = createHooks();
  readonly plugins: ReprisePlugin[] = [];

  constructor(readonly logger: Logger = silentLogger) {}

  use(plugin: ReprisePlugin): this {
    if (this.plugins.some((p) => p.name === plugin.name)) return this;
    plugin.apply(this);
    this.plugins.push(plugin);
    this.logger.debug("plugin %s applied", plugin.name);
    return this;
  }
}

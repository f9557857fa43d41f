import { createHooks, type EngineHooks } from "./hooks.js";
import { pluginRelease, type ReprisePlugin } from "./plugin.js";
import { Logger, silentLogger } from "../util/logger.js";
import { guardHooks } from "./tap-guard.js";

/**
 * The engine: a set of hooks and the plugins that tapped them. It knows no
 * compiler and no storage backend; `CompileService` drives a call through it.
 */
export class Engine {
  readonly hooks: EngineHooks = createHooks();
  readonly plugins: ReprisePlugin[] = [];
  /** The plugin whose `apply` is running: its taps are named after it in errors and stats. */
  private applying: string | undefined;
  private releases: string[] | undefined;

  constructor(readonly logger: Logger = silentLogger) {
    guardHooks(this.hooks, () => this.applying);
  }

  use(plugin: ReprisePlugin): this {
    if (this.plugins.some((p) => p.name === plugin.name)) return this;
    this.applying = plugin.name;
    try {
      plugin.apply(this);
    } finally {
      this.applying = undefined;
    }
    this.plugins.push(plugin);
    this.releases = undefined;
    this.logger.debug("plugin %s applied", plugin.name);
    return this;
  }

  /**
   * Each plugin as `name@release` (pluginRelease; `name@?` when none is known), in the order applied; with
   * `names`, only those plugins (a name no plugin has stays as it is). For the keys of records kept across
   * daemons: a plugin's new release may answer otherwise.
   */
  pluginReleases(names?: readonly string[]): string[] {
    const of = (p: ReprisePlugin) => `${p.name}@${pluginRelease(p) ?? "?"}`;
    if (!names) return (this.releases ??= this.plugins.map(of));
    return names.map((n) => {
      const p = this.plugins.find((q) => q.name === n);
      return p ? of(p) : n;
    });
  }
}

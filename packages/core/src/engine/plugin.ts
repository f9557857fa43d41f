import type { Engine } from "./engine.js";

/** A Reprise plugin: taps the engine's hooks in `apply`, using `name` as its tap name. */
export interface ReprisePlugin {
  readonly name: string;
  /**
   * The plugin's release. What the daemon keeps of a plugin's answers across
   * restarts (compiler detections, include searches, text digests, the farm's
   * equivalence probes) is keyed by it. When absent, the loader takes the
   * version of the package the plugin was loaded from, or a digest of its file
   * for a plugin named by path.
   */
  readonly version?: string;
  apply(engine: Engine): void;
}

const loadedReleases = new WeakMap<ReprisePlugin, string>();

/** Records the release the loader found for `plugin` (its package's version, or its file's digest). */
export function recordLoadedRelease(plugin: ReprisePlugin, release: string): void {
  loadedReleases.set(plugin, release);
}

/** `plugin`'s own `version`, else the release its loader recorded; undefined for a plugin made in code without one. */
export function pluginRelease(plugin: ReprisePlugin): string | undefined {
  return plugin.version ?? loadedReleases.get(plugin);
}

/** What a plugin module exports: a plugin, or a factory taking options from config. */
export type PluginModule =
  | ReprisePlugin
  | ((options?: Record<string, unknown>) => ReprisePlugin)
  | { default: ReprisePlugin | ((options?: Record<string, unknown>) => ReprisePlugin) };

import type { Engine } from "./engine.js";

/** A Reprise plugin: taps the engine's hooks in `apply`, using `name` as its tap name. */
export interface ReprisePlugin {
  readonly name: string;
  apply(engine: Engine): void;
}

/** What a plugin module exports: a plugin, or a factory taking options from config. */
export type PluginModule =
  | ReprisePlugin
  | ((options?: Record<string, unknown>) => ReprisePlugin)
  | { default: ReprisePlugin | ((options?: Record<string, unknown>) => ReprisePlugin) };

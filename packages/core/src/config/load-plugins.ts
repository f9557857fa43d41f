import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { PluginModule, ReprisePlugin } from "../engine/plugin.js";
import type { PluginSpec } from "./schema.js";
import { PluginError } from "../util/errors.js";
import type { Logger } from "../util/logger.js";

/** First-party compiler plugins used when config names none; each is skipped if not installed. */
export const DEFAULT_PLUGINS = ["@reprise/plugin-gcc", "@reprise/plugin-clang", "@reprise/plugin-rustc"];

/** The first-party plugin serving each sandbox name `hermetic` may give. */
export const SANDBOX_PLUGINS: Readonly<Record<string, string>> = {
  bwrap: "@reprise/plugin-sandbox-bwrap",
  docker: "@reprise/plugin-sandbox-docker",
  podman: "@reprise/plugin-sandbox-docker",
};

/** The first-party plugin serving each storage backend kind a level may name. */
export const STORAGE_PLUGINS: Readonly<Record<string, string>> = {
  redis: "@reprise/storage-redis",
  memcached: "@reprise/storage-memcached",
  webdav: "@reprise/storage-webdav",
  http: "@reprise/storage-webdav",
  s3: "@reprise/storage-s3",
};

export interface LoadPluginsOptions {
  /**
   * The `hermetic` setting ("bwrap", "docker", "bwrap,docker"): the
   * first-party plugin of each sandbox it names is loaded too, if installed
   * and not listed already (with options given in `plugins` when listed).
   */
  hermetic?: string;
}

/**
 * Loads plugins named in config: package names are resolved from the config
 * file's directory (then from Reprise's own install), paths relative to it.
 */
export async function loadPlugins(specs: PluginSpec[], baseDir: string, logger: Logger, opts: LoadPluginsOptions = {}): Promise<ReprisePlugin[]> {
  const explicit = specs.length > 0;
  const list: PluginSpec[] = explicit ? specs : DEFAULT_PLUGINS;
  const plugins: ReprisePlugin[] = [];
  for (const spec of list) {
    const [name, options] = typeof spec === "string" ? [spec, undefined] : spec;
    const url = resolveSpecifier(name, baseDir);
    if (!url) {
      if (explicit) throw new PluginError(name, "cannot be found", `install it (npm i -D ${name}) or fix the path in your config`);
      logger.debug("default plugin %s not installed; skipped", name);
      continue;
    }
    let mod: PluginModule;
    try {
      mod = (await import(url)) as PluginModule;
    } catch (err) {
      throw new PluginError(name, "failed to load", (err as Error).message);
    }
    plugins.push(instantiate(name, mod, options));
  }
  // After the listed ones, so that a listed plugin serving the same sandbox name is asked first.
  const listed = new Set(list.map((spec) => (typeof spec === "string" ? spec : spec[0])));
  for (const name of sandboxPluginsFor(opts.hermetic)) {
    if (listed.has(name)) continue;
    const plugin = await loadSandboxPlugin(name, baseDir, logger);
    if (plugin) plugins.push(plugin);
  }
  return plugins;
}

/** First-party sandbox plugins for the names of a `hermetic` setting, without repeats. */
export function sandboxPluginsFor(hermetic: string | undefined): string[] {
  if (!hermetic) return [];
  const names = hermetic
    .split(",")
    .map((s) => SANDBOX_PLUGINS[s.trim()])
    .filter((p): p is string => p !== undefined);
  return [...new Set(names)];
}

/**
 * Loads a first-party sandbox or storage plugin by package name if it is installed
 * (undefined if not: hermetic mode then reports that no plugin provides the
 * sandbox). A plugin that is installed but fails to load is an error.
 */
export async function loadSandboxPlugin(name: string, baseDir: string, logger: Logger): Promise<ReprisePlugin | undefined> {
  const url = resolveSpecifier(name, baseDir);
  if (!url) {
    logger.debug("sandbox plugin %s not installed; skipped", name);
    return undefined;
  }
  let mod: PluginModule;
  try {
    mod = (await import(url)) as PluginModule;
  } catch (err) {
    throw new PluginError(name, "failed to load", (err as Error).message);
  }
  return instantiate(name, mod, undefined);
}

/** The same loader for the first-party storage backends (`STORAGE_PLUGINS`). */
export const loadFirstPartyPlugin = loadSandboxPlugin;

function resolveSpecifier(name: string, baseDir: string): string | undefined {
  if (name.startsWith(".") || isAbsolute(name)) return pathToFileURL(resolve(baseDir, name)).href;
  for (const from of [join(baseDir, "noop.js"), import.meta.url]) {
    try {
      return pathToFileURL(createRequire(from).resolve(name)).href;
    } catch {
      // try the next base
    }
  }
  return undefined;
}

function instantiate(name: string, mod: PluginModule, options: Record<string, unknown> | undefined): ReprisePlugin {
  let candidate: unknown = mod;
  if (candidate && typeof candidate === "object" && "default" in candidate) candidate = (candidate as { default: unknown }).default;
  if (typeof candidate === "function") candidate = (candidate as (o?: Record<string, unknown>) => unknown)(options);
  const plugin = candidate as ReprisePlugin;
  if (!plugin || typeof plugin.apply !== "function" || typeof plugin.name !== "string") {
    throw new PluginError(name, "is not a Reprise plugin", "it must export { name, apply(engine) } or a function returning one");
  }
  return plugin;
}

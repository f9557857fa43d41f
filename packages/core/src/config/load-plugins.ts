import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { recordLoadedRelease, type PluginModule, type ReprisePlugin } from "../engine/plugin.js";
import type { PluginSpec } from "./schema.js";
import { PluginError } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import { untrustedLocationReason } from "../security/path-trust.js";

/** First-party compiler plugins used when config names none; each is skipped if not installed. */
export const DEFAULT_PLUGINS = ["@reprise/plugin-gcc", "@reprise/plugin-clang", "@reprise/plugin-rustc", "@reprise/plugin-rustup"];

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
 * file's directory (then from Reprise's own install), paths relative to it;
 * the first-party defaults from Reprise's own install first. A plugin file
 * that another user could have written or replaced is refused.
 */
export async function loadPlugins(specs: PluginSpec[], baseDir: string, logger: Logger, opts: LoadPluginsOptions = {}): Promise<ReprisePlugin[]> {
  const explicit = specs.length > 0;
  const list: PluginSpec[] = explicit ? specs : DEFAULT_PLUGINS;
  const plugins: ReprisePlugin[] = [];
  for (const spec of list) {
    const [name, options] = typeof spec === "string" ? [spec, undefined] : spec;
    const url = resolveSpecifier(name, baseDir, !explicit);
    if (!url) {
      if (explicit) throw new PluginError(name, "cannot be found", `install it (npm i -D ${name}) or fix the path in your config`);
      logger.debug("default plugin %s not installed; skipped", name);
      continue;
    }
    plugins.push(instantiate(name, url, await importPlugin(name, url), options));
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
  const url = resolveSpecifier(name, baseDir, true);
  if (!url) {
    logger.debug("sandbox plugin %s not installed; skipped", name);
    return undefined;
  }
  return instantiate(name, url, await importPlugin(name, url), undefined);
}

async function importPlugin(name: string, url: string): Promise<PluginModule> {
  const untrusted = url.startsWith("file:") ? untrustedLocationReason(fileURLToPath(url)) : undefined;
  if (untrusted) throw new PluginError(name, "is not loaded", `another user could have written it: ${untrusted}`);
  try {
    return (await import(url)) as PluginModule;
  } catch (err) {
    throw new PluginError(name, "failed to load", (err as Error).message);
  }
}

/** The same loader for the first-party storage backends (`STORAGE_PLUGINS`). */
export const loadFirstPartyPlugin = loadSandboxPlugin;

/** A plugin's module URL; first-party ones (`ownFirst`) are looked for in Reprise's own install before the project's. */
function resolveSpecifier(name: string, baseDir: string, ownFirst = false): string | undefined {
  if (name.startsWith(".") || isAbsolute(name)) return pathToFileURL(resolve(baseDir, name)).href;
  const project = join(baseDir, "noop.js");
  for (const from of ownFirst ? [import.meta.url, project] : [project, import.meta.url]) {
    try {
      return pathToFileURL(createRequire(from).resolve(name)).href;
    } catch {
      // try the next base
    }
  }
  return undefined;
}

function instantiate(name: string, url: string, mod: PluginModule, options: Record<string, unknown> | undefined): ReprisePlugin {
  let candidate: unknown = mod;
  if (candidate && typeof candidate === "object" && "default" in candidate) candidate = (candidate as { default: unknown }).default;
  if (typeof candidate === "function") candidate = (candidate as (o?: Record<string, unknown>) => unknown)(options);
  const plugin = candidate as ReprisePlugin;
  if (!plugin || typeof plugin.apply !== "function" || typeof plugin.name !== "string") {
    throw new PluginError(name, "is not a Reprise plugin", "it must export { name, apply(engine) } or a function returning one");
  }
  if (plugin.version === undefined && url.startsWith("file:")) recordLoadedRelease(plugin, loadedRelease(name, fileURLToPath(url)));
  return plugin;
}

/**
 * The release of a plugin loaded from `file` by the specifier `name`: the
 * version in the package.json of the package `name` (found above the file);
 * for a plugin named by path, or one whose package says no version, a digest
 * of the file itself, so that an edit of a project's own plugin counts as a
 * new release (its other files do not).
 */
function loadedRelease(name: string, file: string): string {
  if (!name.startsWith(".") && !isAbsolute(name)) {
    for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
      let pkg: { name?: unknown; version?: unknown };
      try {
        pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as typeof pkg;
      } catch {
        continue;
      }
      if (pkg.name === name) {
        if (typeof pkg.version === "string") return pkg.version;
        break;
      }
    }
  }
  try {
    return `sha256:${createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 16)}`;
  } catch {
    return "unreadable";
  }
}

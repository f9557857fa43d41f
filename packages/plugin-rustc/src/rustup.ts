import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";

/**
 * Which toolchain rustup's proxy would run for a call, decided the way rustup
 * decides it (https://rust-lang.github.io/rustup/overrides.html), as far as
 * can be done without running rustup on the hit path:
 *
 *  1. `rustc +toolchain` — not handled here (the caller refuses the call);
 *  2. `RUSTUP_TOOLCHAIN`;
 *  3. walking up from the cwd, the nearest directory override (`rustup
 *     override set`, in `settings.toml`) or `rust-toolchain(.toml)` file;
 *  5. the default toolchain of `settings.toml`.
 *
 * Returns the toolchain directory it resolves to, or why it cannot tell.
 */
export type ToolchainChoice = { ok: true; dir: string; name: string } | { ok: false; reason: string; detail: string };

interface Settings {
  defaultToolchain?: string;
  overrides: { path: string; toolchain: string }[];
}

const settingsMemo = new Map<string, { stamp: string; settings: Settings }>();

function stampOf(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : "missing";
}

function unquote(v: string): string {
  const t = v.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1).replace(/\\\\/g, "\\").replace(/\\"/g, '"');
  return t;
}

/** The key = value lines of a small flat TOML file, each with the [table] it is in; comments and blanks skipped. */
function* tomlLines(text: string): Generator<{ table: string; line: string }> {
  let table = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) table = header[1]!.trim();
    else yield { table, line };
  }
}

/** The two things read from rustup's `settings.toml` (a flat file rustup writes itself). */
export function parseRustupSettings(text: string): Settings {
  const settings: Settings = { overrides: [] };
  for (const { table, line } of tomlLines(text)) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = unquote(line.slice(0, eq));
    const value = unquote(line.slice(eq + 1));
    if (table === "" && key === "default_toolchain") settings.defaultToolchain = value;
    else if (table === "overrides") settings.overrides.push({ path: key, toolchain: value });
  }
  return settings;
}

function readSettings(rustupHome: string): Settings {
  const file = join(rustupHome, "settings.toml");
  const stamp = stampOf(file);
  const memo = settingsMemo.get(file);
  if (memo && memo.stamp === stamp) return memo.settings;
  let settings: Settings = { overrides: [] };
  try {
    settings = parseRustupSettings(readFileSync(file, "utf8"));
  } catch {
    // No settings file: no default and no overrides.
  }
  settingsMemo.set(file, { stamp, settings });
  return settings;
}

const NO_CHANNEL = "toolchain file names no channel";

/** The channel a toolchain file names, or why it cannot be used. */
export function parseToolchainFile(text: string, toml: boolean): { channel?: string; unsupported?: string } {
  const trimmed = text.trim();
  if (!toml && trimmed && !trimmed.includes("\n") && !trimmed.includes("=") && !trimmed.startsWith("[")) return { channel: trimmed };
  let channel: string | undefined;
  for (const { table, line } of tomlLines(trimmed)) {
    const m = /^([A-Za-z_-]+)\s*=\s*(.*)$/.exec(line);
    if (!m || table !== "toolchain") continue;
    if (m[1] === "path") return { unsupported: "toolchain file names a path" };
    if (m[1] === "channel") channel = unquote(m[2]!);
  }
  return channel ? { channel } : { unsupported: NO_CHANNEL };
}

function realOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/** A toolchain name (`stable`, `1.95`, `nightly-2026-01-01`, full names with the host) or a path, to its directory. */
export function toolchainDir(name: string, rustupHome: string, host: string): string | undefined {
  if (isAbsolute(name) || name.includes("/")) return realOrUndefined(name);
  for (const candidate of [name, `${name}-${host}`]) {
    const dir = realOrUndefined(join(rustupHome, "toolchains", candidate));
    if (dir && existsSync(join(dir, "bin"))) return dir;
  }
  return undefined;
}

export function chooseToolchain(env: Readonly<Record<string, string>>, cwd: string, host: string): ToolchainChoice {
  const home = env.HOME;
  const rustupHome = env.RUSTUP_HOME ? resolve(cwd, env.RUSTUP_HOME) : home ? join(home, ".rustup") : undefined;
  if (!rustupHome) return { ok: false, reason: "rustup-unknown-home", detail: "neither RUSTUP_HOME nor HOME is set" };
  const pick = (name: string, how: string): ToolchainChoice => {
    const dir = toolchainDir(name, rustupHome, host);
    return dir ? { ok: true, dir, name } : { ok: false, reason: "rustup-toolchain-unknown", detail: `${how} names ${name}, which is not installed` };
  };
  if (env.RUSTUP_TOOLCHAIN) return pick(env.RUSTUP_TOOLCHAIN, "RUSTUP_TOOLCHAIN");
  const settings = readSettings(rustupHome);
  // Nearest directory first; in each, a `rustup override set` before a toolchain file.
  for (let dir = cwd; ; dir = dirname(dir)) {
    const override = settings.overrides.find((o) => o.path === dir);
    if (override) return pick(override.toolchain, `the override for ${override.path}`);
    for (const [file, toml] of [["rust-toolchain", false], ["rust-toolchain.toml", true]] as const) {
      const path = join(dir, file);
      if (!existsSync(path)) continue;
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return { ok: false, reason: "rustup-toolchain-file", detail: `${path} cannot be read` };
      }
      const parsed = parseToolchainFile(text, toml || text.includes("["));
      if (parsed.channel) return pick(parsed.channel, path);
      // A file that only lists components or targets keeps the default toolchain.
      if (parsed.unsupported !== NO_CHANNEL) return { ok: false, reason: "rustup-toolchain-file", detail: `${path}: ${parsed.unsupported}` };
      return settings.defaultToolchain ? pick(settings.defaultToolchain, "the default toolchain") : { ok: false, reason: "rustup-no-toolchain", detail: "rustup has no default toolchain" };
    }
    if (dirname(dir) === dir) break;
  }
  if (settings.defaultToolchain) return pick(settings.defaultToolchain, "the default toolchain");
  return { ok: false, reason: "rustup-no-toolchain", detail: "rustup has no default toolchain" };
}

import type { Engine } from "../engine/engine.js";
import { RepriseError } from "../util/errors.js";
import type { Sandbox } from "./types.js";

/** No sandbox the config selects can run here. A job must then not run at all (hermetic mode compiles locally instead). */
export class SandboxUnavailableError extends RepriseError {
  constructor(
    readonly names: string[],
    readonly reasons: string[],
  ) {
    super(`no usable sandbox for "${names.join(",")}"`, "E_NO_SANDBOX", reasons.join("; "));
    this.name = "SandboxUnavailableError";
  }
}

/** The sandbox names a `hermetic` setting lists, in order: `"bwrap"`, `"bwrap,docker"`. */
export function sandboxNames(setting: string): string[] {
  return setting
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface SandboxSelectorOptions {
  /**
   * Called once per name no plugin provides yet, before asking again: loads
   * the first-party plugin for it if it is installed (see `loadSandboxPlugin`).
   */
  loadPlugin?: (name: string) => Promise<void>;
  /** How long an answer "none usable" is kept before the plugins are asked again (default 60 s). */
  retryMs?: number;
}

type Choice = { ok: true; sandbox: Sandbox } | { ok: false; error: SandboxUnavailableError; at: number };

/**
 * Chooses the sandbox for a `hermetic` setting: for each name in order, the
 * sandboxes `createSandbox` plugins make for it (in the order they tapped),
 * each of which must say it is usable on this host (`probe`). The first
 * usable one wins;
 * none usable is a `SandboxUnavailableError` listing every reason — never a
 * run outside a sandbox. Answers are remembered per setting and options (a
 * "none" only for `retryMs`, so installing bwrap or starting an engine is
 * noticed without a restart).
 */
export class SandboxSelector {
  private readonly choices = new Map<string, Promise<Choice>>();
  private readonly loadAttempted = new Set<string>();

  constructor(
    private readonly engine: Engine,
    private readonly options: SandboxSelectorOptions = {},
  ) {}

  async select(setting: string, sandboxOptions: Record<string, unknown> = {}): Promise<Sandbox> {
    const key = `${setting}\0${JSON.stringify(sandboxOptions)}`;
    let pending = this.choices.get(key);
    if (pending) {
      const done = await pending;
      if (!done.ok && Date.now() - done.at > (this.options.retryMs ?? 60_000) && this.choices.get(key) === pending) {
        this.choices.delete(key);
        pending = undefined;
      }
    }
    if (!pending) {
      pending = this.choose(setting, sandboxOptions);
      this.choices.set(key, pending);
    }
    const choice = await pending;
    if (!choice.ok) throw choice.error;
    return choice.sandbox;
  }

  private async choose(setting: string, sandboxOptions: Record<string, unknown>): Promise<Choice> {
    const names = sandboxNames(setting);
    const reasons: string[] = [];
    for (const name of names) {
      let offered = this.create(name, sandboxOptions);
      if (!offered.length && this.options.loadPlugin && !this.loadAttempted.has(name)) {
        this.loadAttempted.add(name);
        try {
          await this.options.loadPlugin(name);
        } catch (err) {
          reasons.push(`${name}: ${(err as Error).message}`);
          continue;
        }
        offered = this.create(name, sandboxOptions);
      }
      if (!offered.length) {
        reasons.push(`${name}: no sandbox plugin provides "${name}" (install @reprise/plugin-sandbox-${name} or list a plugin that does in "plugins")`);
        continue;
      }
      for (const { plugin, sandbox, error } of offered) {
        const label = offered.length > 1 ? `${name} (${plugin})` : name;
        if (!sandbox) {
          reasons.push(`${label}: its sandbox plugin failed: ${error}`);
          continue;
        }
        let probe: Awaited<ReturnType<Sandbox["probe"]>>;
        try {
          probe = await sandbox.probe();
        } catch (err) {
          probe = { usable: false, reason: `probe failed: ${(err as Error).message}` };
        }
        if (probe.usable) return { ok: true, sandbox };
        reasons.push(`${label}: ${probe.reason}`);
      }
    }
    if (names.length === 0) reasons.push("no sandbox named");
    return { ok: false, error: new SandboxUnavailableError(names, reasons), at: Date.now() };
  }

  /**
   * Every plugin's answer for `name`, in tap order. `createSandbox` is a bail
   * hook (the first plugin serving a name answers); asking each tap in turn
   * lets a later plugin's sandbox of the same name serve when an earlier one
   * is not usable here.
   */
  private create(name: string, options: Record<string, unknown>): { plugin: string; sandbox?: Sandbox; error?: string }[] {
    const settings = { name, options };
    const out: { plugin: string; sandbox?: Sandbox; error?: string }[] = [];
    for (const tap of this.engine.hooks.createSandbox.taps) {
      try {
        const sandbox = (tap.fn as (s: typeof settings) => Sandbox | undefined)(settings);
        if (sandbox) out.push({ plugin: tap.name, sandbox });
      } catch (err) {
        out.push({ plugin: tap.name, error: (err as Error).message });
      }
    }
    return out;
  }
}

/**
 * Descriptors provided with rustup: `rustup toolchain install <release>
 * --profile minimal --no-self-update`, then `rustup target add <target>`,
 * into the builder's own RUSTUP_HOME, one install at a time per release.
 * A toolchain is used only when its commit and the target's std digest are
 * the descriptor's.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { DirectoryDigests } from "@reprise/plugin-rustc";
import { descriptorId, DESCRIPTOR_PREFIX, type RustDescriptor } from "../descriptor.js";
import { inspectToolchain, providedToolchain, stdDigestOf, stdTargets, type RustToolchainDir } from "./rust-toolchain-dir.js";
import { runRustup, type RustupEnvironment } from "./run-rustup.js";
import { ProvideError, type ProvidedToolchain } from "./types.js";
import type { BuilderLinkers } from "./builder-linkers.js";

export class RustupProvider {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** When a job last used each toolchain directory (its name under toolchains/); before that, the directory's mtime. */
  private readonly lastUsed = new Map<string, number>();

  constructor(
    private readonly env: RustupEnvironment,
    private readonly digests: DirectoryDigests,
    private readonly linkers: BuilderLinkers,
    private readonly bound: { maxToolchains?: number; keep?: (dir: string) => boolean } = {},
  ) {}

  /** A job starts with `d`: its toolchain becomes the most recently used. */
  used(d: RustDescriptor): void {
    const dir = this.dirOf(d.release);
    if (dir) this.lastUsed.set(basename(dir), Date.now());
  }

  /**
   * Uninstalls the least recently used toolchains past `maxToolchains`
   * (`rustup toolchain uninstall`): never one a running job uses
   * (`inUse(release)`), one being installed, or one the config declares.
   * Returns the releases removed.
   */
  async trim(inUse: (release: string) => boolean): Promise<string[]> {
    const max = this.bound.maxToolchains;
    if (max === undefined) return [];
    const dirs = this.toolchainDirs().filter((d) => !this.bound.keep?.(d));
    if (dirs.length <= max) return [];
    // `<release>-<host triple>`: Linux host triples have four parts.
    const releaseOf = (dir: string) => basename(dir).split("-").slice(0, -4).join("-") || basename(dir);
    const age = (dir: string) => this.lastUsed.get(basename(dir)) ?? statSync(dir).mtimeMs;
    const candidates = dirs.filter((d) => !inUse(releaseOf(d)) && !this.locks.has(releaseOf(d))).sort((a, b) => age(a) - age(b));
    const removed: string[] = [];
    for (const dir of candidates.slice(0, dirs.length - max)) {
      await runRustup(this.env, ["toolchain", "uninstall", basename(dir)]);
      this.lastUsed.delete(basename(dir));
      removed.push(releaseOf(dir));
    }
    if (dirs.length - removed.length > max) this.env.log(`keeping ${dirs.length - removed.length} toolchains (bound ${max}): the others are in use by running jobs`);
    return removed;
  }

  /** Every id prefix it may install: any release rustup's server offers. */
  installable(): string[] {
    return [DESCRIPTOR_PREFIX];
  }

  /** Ids of the toolchains and targets installed now. */
  async held(): Promise<string[]> {
    const ids: string[] = [];
    for (const dir of this.toolchainDirs()) {
      let tc: RustToolchainDir;
      try {
        tc = await inspectToolchain(dir);
      } catch {
        continue;
      }
      for (const target of stdTargets(dir)) {
        const digest = await stdDigestOf(this.digests, dir, target);
        const id = digest && descriptorId({ release: tc.release, commitHash: tc.commitHash, target, stdDigest: digest });
        if (id) ids.push(id);
      }
    }
    return ids;
  }

  /** Installs what `d` needs (once at a time per release) and checks it is the same toolchain and std. */
  provide(d: RustDescriptor): Promise<ProvidedToolchain> {
    const previous = this.locks.get(d.release) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.install(d));
    this.locks.set(d.release, next);
    void next.finally(() => {
      if (this.locks.get(d.release) === next) this.locks.delete(d.release);
    }).catch(() => {});
    return next;
  }

  private toolchainDirs(): string[] {
    const root = join(this.env.rustupHome, "toolchains");
    try {
      return readdirSync(root)
        .map((n) => join(root, n))
        .filter((p) => existsSync(join(p, "bin", "rustc")));
    } catch {
      return [];
    }
  }

  private dirOf(release: string): string | undefined {
    return this.toolchainDirs().find((p) => p.split("/").pop()!.startsWith(`${release}-`));
  }

  private async install(d: RustDescriptor): Promise<ProvidedToolchain> {
    let dir = this.dirOf(d.release);
    if (!dir) {
      await runRustup(this.env, ["toolchain", "install", d.release, "--profile", "minimal", "--no-self-update"]);
      dir = this.dirOf(d.release);
      if (!dir) throw new ProvideError("install-failed", `rustup installed ${d.release} but no toolchain directory appeared in ${this.env.rustupHome}/toolchains`);
    }
    const tc = await inspectToolchain(dir);
    if (tc.commitHash !== d.commitHash) {
      throw new ProvideError("mismatch", `rustc ${d.release} here is commit ${tc.commitHash}, the client's is ${d.commitHash}: not the same build`);
    }
    if (!existsSync(join(dir, "lib", "rustlib", d.target, "lib"))) {
      await runRustup(this.env, ["target", "add", d.target, "--toolchain", dir.split("/").pop()!]);
    }
    const digest = await stdDigestOf(this.digests, dir, d.target);
    if (digest !== d.stdDigest) {
      throw new ProvideError("mismatch", `the standard library of ${d.target} for rustc ${d.release} here has digest ${digest ?? "(none)"}, the client's ${d.stdDigest}: not the same std`);
    }
    return providedToolchain(tc, d.target, await this.linkers.verified(d.target));
  }
}

/**
 * Descriptors provided with rustup: `rustup toolchain install <release>
 * --profile minimal --no-self-update`, then `rustup target add <target>`,
 * into the builder's own RUSTUP_HOME, one install at a time per release.
 * A toolchain is used only when its commit and the target's std digest are
 * the descriptor's.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DirectoryDigests } from "@reprise/plugin-rustc";
import { descriptorId, DESCRIPTOR_PREFIX, type RustDescriptor } from "../descriptor.js";
import { inspectToolchain, providedToolchain, stdDigestOf, stdTargets, type RustToolchainDir } from "./rust-toolchain-dir.js";
import { runRustup, type RustupEnvironment } from "./run-rustup.js";
import { ProvideError, type ProvidedToolchain } from "./types.js";
import type { BuilderLinkers } from "./builder-linkers.js";

export class RustupProvider {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly env: RustupEnvironment,
    private readonly digests: DirectoryDigests,
    private readonly linkers: BuilderLinkers,
  ) {}

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

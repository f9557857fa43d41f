/**
 * Rust toolchains a builder's config declares (a distribution's rustc with
 * the std of each target it has installed, e.g. Debian's /usr/bin/rustc with
 * libstd-rust-dev for amd64 and arm64): held from the start, never installed.
 */
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { DirectoryDigests } from "@reprise/plugin-rustc";
import { descriptorId, parseDescriptorId } from "../descriptor.js";
import { inspectToolchain, providedToolchain, stdDigestOf, stdTargets, type RustToolchainDir } from "./rust-toolchain-dir.js";
import { ProvideError, type ProvidedToolchain } from "./types.js";
import type { BuilderLinkers } from "./builder-linkers.js";

export interface DeclaredRustToolchain {
  /** The rustc to run (e.g. /usr/bin/rustc). */
  rustc: string;
  /** Directories of its own libraries when the loader would not find them (a distribution's rustc unpacked elsewhere). */
  libraryPath?: string[];
}

export class DeclaredToolchains {
  private toolchains?: Promise<Map<string, { tc: RustToolchainDir; target: string }>>;

  constructor(
    private readonly declared: DeclaredRustToolchain[],
    private readonly digests: DirectoryDigests,
    private readonly linkers: BuilderLinkers,
  ) {}

  private load(): Promise<Map<string, { tc: RustToolchainDir; target: string }>> {
    this.toolchains ??= (async () => {
      const byId = new Map<string, { tc: RustToolchainDir; target: string }>();
      for (const d of this.declared) {
        const rustc = realpathSync(d.rustc);
        const env = d.libraryPath?.length ? { LD_LIBRARY_PATH: d.libraryPath.join(":") } : {};
        const { execa } = await import("execa");
        const printed = await execa(rustc, ["--print", "sysroot"], { env, reject: false, timeout: 30_000 });
        const sysroot = printed.exitCode === 0 ? printed.stdout.trim() : dirname(dirname(rustc));
        const tc = await inspectToolchain(sysroot, rustc, d.libraryPath ?? [join(sysroot, "lib")]);
        for (const target of stdTargets(sysroot)) {
          const digest = await stdDigestOf(this.digests, sysroot, target);
          const id = digest && descriptorId({ release: tc.release, commitHash: tc.commitHash, target, stdDigest: digest });
          if (id) byId.set(id, { tc, target });
        }
      }
      return byId;
    })();
    return this.toolchains;
  }

  async held(): Promise<string[]> {
    return [...(await this.load()).keys()];
  }

  /** The declared toolchain with exactly this descriptor, or undefined. */
  async provide(id: string): Promise<ProvidedToolchain | undefined> {
    const hit = (await this.load()).get(id);
    if (!hit) return undefined;
    const d = parseDescriptorId(id)!;
    const digest = await stdDigestOf(this.digests, hit.tc.sysroot, d.target);
    if (digest !== d.stdDigest) throw new ProvideError("mismatch", `the declared ${hit.tc.rustc}'s std for ${d.target} changed since the builder started`);
    return providedToolchain(hit.tc, hit.target, await this.linkers.verified(hit.target));
  }
}

/**
 * The builder's side of Rust descriptors (`@reprise/plugin-rustup/provider`):
 * `createRustToolchainProvider(config)` gives what `@reprise/dist`'s builder
 * asks a toolchain provider: the ids it holds, the id prefixes it can
 * install, the capabilities it has (linkers), and a toolchain for an id.
 */
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { homedir } from "node:os";
import { DirectoryDigests } from "@reprise/plugin-rustc";
import { parseDescriptorId } from "../descriptor.js";
import { BuilderLinkers } from "./builder-linkers.js";
import { DeclaredToolchains, type DeclaredRustToolchain } from "./declared-provider.js";
import { RustupProvider } from "./rustup-provider.js";
import { ProvideError, type ProvidedToolchain } from "./types.js";

export { ProvideError, type ProvidedToolchain } from "./types.js";
export { runRustup, rustupEnv, type RustupEnvironment } from "./run-rustup.js";
export { inspectToolchain, stdTargets, providedToolchain } from "./rust-toolchain-dir.js";
export { BuilderLinkers } from "./builder-linkers.js";

export interface RustProviderConfig {
  rustup?: {
    /** The rustup binary (default: `rustup` on PATH, then ~/.cargo/bin/rustup). */
    rustup?: string;
    /** The builder's own RUSTUP_HOME (default <dataDir>/rustup). */
    rustupHome?: string;
    cargoHome?: string;
    /** RUSTUP_DIST_SERVER (default: the environment's, else rustup's own). */
    distServer?: string;
    /** RUSTUP_UPDATE_ROOT (default: the environment's). */
    updateRoot?: string;
    /** Longest a rustup call may take (default 10 minutes). */
    timeoutMs?: number;
    /** How many toolchains to keep installed (default 3): past it, the least recently used one no job is running with is uninstalled. */
    maxToolchains?: number;
  };
  /** Toolchains held from the start (a distribution's rustc and the targets it has std for). */
  toolchains?: DeclaredRustToolchain[];
  /**
   * Targets this builder links for: a triple (linked with `cc`) or
   * `{ target, linker }` (e.g. `aarch64-linux-gnu-gcc`, as clients pass it in
   * `-C linker`). Default: the host's triple with `cc`, when on PATH. Each is
   * reported as `link:<triple>:<linker identity>`.
   */
  linkTargets?: (string | LinkTarget)[];
}

export interface LinkTarget {
  target: string;
  /** As clients' rustc calls it (`-C linker=`), found on the builder's PATH; default `cc`. */
  linker?: string;
}

export interface RustToolchainProvider {
  readonly name: "rust";
  held(): Promise<string[]>;
  installable(): string[];
  capabilities(): string[];
  /** undefined: not a Rust descriptor, or one this builder neither holds nor can install. */
  provide(id: string, log: (msg: string) => void): Promise<ProvidedToolchain | undefined>;
  used(id: string): void;
  /** Uninstalls rustup toolchains past `rustup.maxToolchains`, least recently used first, none a running job uses (dist's ProviderHost). */
  trim(host: { inUse(match: (id: string) => boolean): boolean; removed(match: (id: string) => boolean): void; log(msg: string): void }): Promise<void>;
}

/** Default bound on the toolchains rustup keeps installed for jobs. */
export const DEFAULT_MAX_TOOLCHAINS = 3;

function onPath(name: string, env = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The GNU/Linux target triple of this host (what `rustc -vV` says as host here). */
export function hostTriple(arch: string = process.arch): string | undefined {
  const triples: Record<string, string> = { x64: "x86_64-unknown-linux-gnu", arm64: "aarch64-unknown-linux-gnu", ia32: "i686-unknown-linux-gnu", riscv64: "riscv64gc-unknown-linux-gnu", ppc64: "powerpc64le-unknown-linux-gnu", s390x: "s390x-unknown-linux-gnu", loong64: "loongarch64-unknown-linux-gnu" };
  return process.platform === "linux" ? triples[arch] : undefined;
}

/** `startLog`: where what happens outside a provisioning goes (a linker that cannot be inspected at start). */
export function createRustToolchainProvider(config: RustProviderConfig, dataDir: string, host: string | undefined = hostTriple(), startLog?: (msg: string) => void): RustToolchainProvider {
  const digests = new DirectoryDigests();
  const linkTargets = (config.linkTargets ?? (host && (onPath("cc") || onPath("gcc")) ? [host] : [])).map((t) => (typeof t === "string" ? { target: t } : t));
  const linkers = new BuilderLinkers(linkTargets, (m) => (startLog ?? log)(m));
  const declared = new DeclaredToolchains(config.toolchains ?? [], digests, linkers);
  let log: (msg: string) => void = () => {};
  const r = config.rustup;
  const rustupBin = r ? (r.rustup ?? onPath("rustup") ?? join(homedir(), ".cargo", "bin", "rustup")) : undefined;
  const rustup = r
    ? new RustupProvider(
        {
          rustup: rustupBin!,
          rustupHome: r.rustupHome ?? join(dataDir, "rustup"),
          cargoHome: r.cargoHome ?? join(dataDir, "cargo"),
          ...((r.distServer ?? process.env.RUSTUP_DIST_SERVER) ? { distServer: r.distServer ?? process.env.RUSTUP_DIST_SERVER! } : {}),
          ...((r.updateRoot ?? process.env.RUSTUP_UPDATE_ROOT) ? { updateRoot: r.updateRoot ?? process.env.RUSTUP_UPDATE_ROOT! } : {}),
          timeoutMs: r.timeoutMs ?? 10 * 60_000,
          log: (m) => log(m),
        },
        digests,
        linkers,
        // A toolchain the config declares is never uninstalled, even one inside this RUSTUP_HOME.
        { maxToolchains: r.maxToolchains ?? DEFAULT_MAX_TOOLCHAINS, keep: (dir) => (config.toolchains ?? []).some((t) => t.rustc.startsWith(`${dir}/`)) },
      )
    : undefined;
  return {
    name: "rust",
    async held() {
      await linkers.ready();
      return [...new Set([...(await declared.held()), ...(rustup ? await rustup.held() : [])])];
    },
    installable: () => rustup?.installable() ?? [],
    capabilities: () => linkers.capabilities(),
    async provide(id, logTo) {
      const d = parseDescriptorId(id);
      if (!d) return undefined;
      const fromConfig = await declared.provide(id);
      if (fromConfig) return fromConfig;
      if (!rustup) throw new ProvideError("not-offered", `no declared toolchain is rustc ${d.release} (${d.commitHash.slice(0, 9)}) with this std for ${d.target}, and rustup is not configured on this builder`);
      log = logTo;
      return rustup.provide(d);
    },
    used(id) {
      const d = parseDescriptorId(id);
      if (d) rustup?.used(d);
    },
    async trim(host) {
      if (!rustup) return;
      const removed = await rustup.trim((release) => host.inUse((id) => parseDescriptorId(id)?.release === release));
      for (const release of removed) {
        host.log(`uninstalled rustc ${release} (least recently used, over rust.rustup.maxToolchains)`);
        host.removed((id) => parseDescriptorId(id)?.release === release);
      }
    },
  };
}

/**
 * Toolchains a builder provides itself, named by descriptor ids instead of
 * uploaded as archives (docs/dist-builder.md#rust-toolchains): a provider
 * (Rust: rustup or declared toolchains, `@reprise/plugin-rustup/provider`)
 * makes the toolchain available and lists its files; the builder packs them
 * once into its content-addressed toolchain store, so a descriptor job runs
 * in the same sandbox as any other job. One provisioning at a time per id.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { writeToolchainArchive, type CompileJob, type Platform, type ToolchainSpec } from "@reprise/core";
import type { BuilderStores } from "./stores.js";
import { HttpError } from "./http-io.js";

/** What a provider hands back for an id (the shape of plugin-rustup's ProvidedToolchain). */
export interface ProvidedToolchain {
  spec: ToolchainSpec;
  program: string;
  env: Record<string, string>;
  adaptArgv(argv: readonly string[]): string[];
}

export interface ToolchainProvider {
  readonly name: string;
  /** Ids it holds now (reported to the scheduler). */
  held(): Promise<string[]>;
  /** Prefixes of ids it can install on demand. */
  installable(): string[];
  /** What it can finish besides compiling (`link:<triple>`). */
  capabilities(): string[];
  /** The toolchain for `id`; undefined when the id is not this provider's. Throws (with `reason`) when it cannot provide it. */
  provide(id: string, log: (msg: string) => void): Promise<ProvidedToolchain | undefined>;
}

interface Ready {
  archiveId: string;
  provided: ProvidedToolchain;
}

/** Descriptor ids name their kind (`rustc:…`); archive ids (content digests) never hold a ':'. */
export function isDescriptorId(id: string): boolean {
  return /^[a-z0-9-]+:/.test(id);
}

export class ProvidedToolchains {
  private readonly ready = new Map<string, Promise<Ready>>();
  private heldIds: string[] = [];

  constructor(
    private readonly providers: ToolchainProvider[],
    private readonly stores: BuilderStores,
    private readonly platform: Platform,
    private readonly log: (level: "info" | "warn", msg: string) => void,
  ) {}

  get any(): boolean {
    return this.providers.length > 0;
  }

  /** Re-reads what the providers hold (after a start or an install). */
  async refresh(): Promise<void> {
    const ids: string[] = [];
    for (const p of this.providers) {
      try {
        ids.push(...(await p.held()));
      } catch (err) {
        this.log("warn", `toolchain provider ${p.name}: cannot list what it holds: ${(err as Error).message}`);
      }
    }
    this.heldIds = [...new Set(ids)].sort();
  }

  held(): string[] {
    return this.heldIds;
  }

  installable(): string[] {
    return [...new Set(this.providers.flatMap((p) => p.installable()))];
  }

  capabilities(): string[] {
    return [...new Set(this.providers.flatMap((p) => p.capabilities()))].sort();
  }

  /** The job as it runs here: this builder's toolchain for the descriptor, argv[0] linked to its program, explicit target. */
  async adapt(job: CompileJob): Promise<CompileJob> {
    const { archiveId, provided } = await this.ensure(job.toolchainId);
    const argv0 = job.argv[0]!;
    const links = [...(job.links ?? []).filter((l) => l.path !== argv0)];
    if (argv0 !== provided.program) links.push({ path: argv0, target: provided.program });
    return { ...job, toolchainId: archiveId, argv: provided.adaptArgv(job.argv), env: { ...job.env, ...provided.env }, links };
  }

  private async ensure(id: string): Promise<Ready> {
    const known = this.ready.get(id);
    // Its packed copy may have been evicted from the store since: pack it again.
    if (known && !(await known.then((r) => this.stores.toolchains.has(r.archiveId), () => false))) this.ready.delete(id);
    let pending = this.ready.get(id);
    if (!pending) {
      pending = this.provision(id);
      this.ready.set(id, pending);
      // A failure is not remembered: the next job asks again (the server may be back).
      pending.catch(() => this.ready.delete(id));
    }
    return pending;
  }

  private async provision(id: string): Promise<Ready> {
    const started = performance.now();
    let provided: ProvidedToolchain | undefined;
    for (const p of this.providers) {
      try {
        provided = await p.provide(id, (msg) => this.log("info", `${id}: ${msg}`));
      } catch (err) {
        const reason = (err as { reason?: string }).reason ?? "failed";
        this.log("warn", `cannot provide toolchain ${id} (${reason}): ${(err as Error).message}`);
        throw new HttpError(422, "toolchain-unavailable", `this builder cannot provide ${id} (${reason}): ${(err as Error).message}`, { reason });
      }
      if (provided) break;
    }
    if (!provided) throw new HttpError(422, "toolchain-unavailable", `this builder has no provider for toolchain ${id}`, { reason: "not-offered" });
    const tmp = join(this.stores.incomingDir, `provided-${randomBytes(8).toString("hex")}.tar.gz`);
    try {
      const archive = await writeToolchainArchive(provided.spec, [this.platform], tmp);
      await this.stores.toolchains.ensure(archive.id, tmp);
      this.log("info", `toolchain ${id} ready in ${Math.round(performance.now() - started)} ms (packed as ${archive.id.slice(0, 12)}, ${provided.spec.entries.length} entries)`);
      void this.refresh();
      return { archiveId: archive.id, provided };
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

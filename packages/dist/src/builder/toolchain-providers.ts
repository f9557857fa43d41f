/**
 * Toolchains a builder provides itself, named by descriptor ids instead of
 * uploaded as archives (docs/dist-builder.md#rust-toolchains): a provider
 * (Rust: rustup or declared toolchains, `@reprise/plugin-rustup/provider`)
 * makes the toolchain available and lists its files; the builder lays them
 * out once as a sandbox root (hard links to the installed files, copies
 * across file systems) under `<dataDir>/provided/`, so a descriptor job runs
 * in the same sandbox as any other job without packing hundreds of megabytes
 * of rustc into an archive. One provisioning at a time per id.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { relativeLinkTarget, type CompileJob, type ToolchainSpec } from "@reprise/core";
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
  /**
   * Optional, for a provider that bounds what it keeps installed: `used` when
   * a job starts with an id (least-recently-used order), `trim` after a
   * provisioning and whenever a job ends, to remove what is over its bound —
   * never what `host.inUse` says a running job holds; it reports what it
   * removed with `host.removed` (the builder then drops those ids' layouts).
   */
  used?(id: string): void;
  trim?(host: ProviderHost): Promise<void>;
}

export interface ProviderHost {
  /** Whether a running job uses an id `match` accepts. */
  inUse(match: (id: string) => boolean): boolean;
  removed(match: (id: string) => boolean): void;
  log(msg: string): void;
}

/** How long a failed provisioning answers for its id before it is tried again. */
const FAILURE_MEMORY_MS = 30_000;

interface Ready {
  /** The sandbox root holding the provided toolchain's files at their paths. */
  root: string;
  provided: ProvidedToolchain;
}

/** Descriptor ids name their kind (`rustc:…`); archive ids (content digests) never hold a ':'. */
export function isDescriptorId(id: string): boolean {
  return /^[a-z0-9-]+:/.test(id);
}

export class ProvidedToolchains {
  private readonly ready = new Map<string, Promise<Ready>>();
  /** Jobs running with each id (a provider never removes what they use). */
  private readonly leases = new Map<string, number>();
  private heldIds: string[] = [];
  private trimming: Promise<void> = Promise.resolve();

  private readonly dir: string;

  constructor(
    private readonly providers: ToolchainProvider[],
    dataDir: string,
    private readonly log: (level: "info" | "warn", msg: string) => void,
  ) {
    this.dir = join(dataDir, "provided");
    rmSync(join(this.dir, ".tmp"), { recursive: true, force: true });
  }

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

  /**
   * The job as it runs here (this builder's rustc for the descriptor, argv[0]
   * linked to it, explicit target), its sandbox root, and `release` to call
   * when the job ends (until then nothing it uses is removed).
   */
  async adapt(job: CompileJob): Promise<{ job: CompileJob; root: string; release: () => void }> {
    const id = job.toolchainId;
    this.leases.set(id, (this.leases.get(id) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.leases.get(id) ?? 1) - 1;
      if (n > 0) this.leases.set(id, n);
      else this.leases.delete(id);
      this.trim();
    };
    try {
      const { root, provided } = await this.ensure(id);
      for (const p of this.providers) p.used?.(id);
      const argv0 = job.argv[0]!;
      const links = [...(job.links ?? []).filter((l) => l.path !== argv0)];
      if (argv0 !== provided.program) links.push({ path: argv0, target: provided.program });
      return { job: { ...job, argv: provided.adaptArgv(job.argv), env: { ...job.env, ...provided.env }, links }, root, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Lets bounded providers remove what is over their bound (one pass at a time); resolves when this pass is done. */
  trim(): Promise<void> {
    const host = {
      inUse: (match: (id: string) => boolean) => [...this.leases.keys()].some(match),
      removed: (match: (id: string) => boolean) => this.drop(match),
      log: (msg: string) => this.log("info", msg),
    };
    this.trimming = this.trimming.then(async () => {
      for (const p of this.providers) {
        try {
          await p.trim?.(host);
        } catch (err) {
          this.log("warn", `toolchain provider ${p.name}: cannot remove toolchains over its bound: ${(err as Error).message}`);
        }
      }
    });
    return this.trimming;
  }

  /** Forgets the ids a provider removed, and their laid-out roots (hard links would keep the removed files' space). */
  private drop(match: (id: string) => boolean): void {
    for (const id of [...this.ready.keys()]) if (match(id) && !this.leases.get(id)) this.ready.delete(id);
    let names: string[] = [];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith(".id"));
    } catch {
      // nothing laid out yet
    }
    for (const n of names) {
      const id = readFileSync(join(this.dir, n), "utf8");
      if (!match(id) || this.leases.get(id)) continue;
      rmSync(join(this.dir, n.slice(0, -".id".length)), { recursive: true, force: true });
      rmSync(join(this.dir, n), { force: true });
    }
    void this.refresh();
  }

  private ensure(id: string): Promise<Ready> {
    let pending = this.ready.get(id);
    if (!pending) {
      pending = this.provision(id);
      this.ready.set(id, pending);
      // Jobs arriving meanwhile share this provisioning. A failure is remembered briefly (jobs behind a
      // dead or silent server fail at once, not one timeout each), then the next job asks again.
      pending.catch(() => setTimeout(() => this.ready.get(id) === pending && this.ready.delete(id), FAILURE_MEMORY_MS).unref());
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
    const root = this.layOut(id, provided.spec);
    this.log("info", `toolchain ${id} ready in ${Math.round(performance.now() - started)} ms (${provided.spec.entries.length} entries at ${root})`);
    void this.refresh();
    void this.trim();
    return { root, provided };
  }

  /**
   * The spec's entries at their paths under a root of their own, named by the
   * id and the entry list: made once (in `.tmp`, then renamed), reused after a
   * restart. Files are hard links to what the provider installed (copies
   * across file systems); absolute symlinks are made relative to the root.
   */
  private layOut(id: string, spec: ToolchainSpec): string {
    const key = createHash("sha256").update(id).update("\0").update(JSON.stringify(spec.entries)).digest("hex").slice(0, 32);
    const final = join(this.dir, key);
    if (existsSync(final)) return final;
    const tmp = join(this.dir, ".tmp", `${key}-${randomBytes(4).toString("hex")}`);
    const source = spec.sysroot ?? "/";
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    try {
      for (const e of spec.entries) {
        const rel = e.path.replace(/^\/+/, "");
        const dest = join(tmp, rel);
        if (e.type === "directory") mkdirSync(dest, { recursive: true, mode: 0o755 });
        else if (e.type === "symlink") symlinkSync(relativeLinkTarget(rel, e.linkTarget ?? ""), dest);
        else {
          try {
            linkSync(join(source, e.path), dest);
          } catch {
            copyFileSync(join(source, e.path), dest);
          }
        }
      }
      mkdirSync(this.dir, { recursive: true });
      // Which id a root is for, so that it goes when the provider removes that toolchain (also after a restart).
      writeFileSync(`${final}.id`, id);
      renameSync(tmp, final);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (existsSync(final)) return final; // another provisioning of the same id won
      throw err;
    }
    return final;
  }
}

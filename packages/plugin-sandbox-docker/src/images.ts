import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { open, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { CompileJob } from "@reprise/core";
import { SandboxError } from "@reprise/core/sandbox-kit";
import { engineCommand, firstLines, type ContainerEngine } from "./engine.js";
import { treeTar } from "./tar.js";

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Label on every toolchain image: its toolchain id. */
export const TOOLCHAIN_LABEL = "reprise.toolchain";
/**
 * Directories every toolchain image gets besides the toolchain: `/tmp`,
 * world-writable and sticky. The job's /tmp is a tmpfs, and runc gives a
 * tmpfs the mode of the directory it is mounted on: docker creates a missing
 * /tmp (0755) when the job's cwd lies below it, which would leave the job
 * without a writable /tmp.
 */
const IMAGE_DIRS: Record<string, number> = { tmp: 0o1777 };
/** Tag of the empty image the probe runs. */
export const PROBE_TAG = "reprise-probe";

/**
 * The image reference of a toolchain: `<repository>:<toolchain id>` (a hash of the id if it cannot be a tag).
 * With links (the names a job calls its compiler by, `CompileJob.links`), an image of its own holding them.
 */
export function imageFor(repository: string, toolchainId: string, links: JobLinks = []): string {
  if (!links.length) return `${repository}:${tagFor(toolchainId)}`;
  return `${repository}:${createHash("sha256").update(JSON.stringify([toolchainId, links])).digest("hex")}`;
}

type JobLinks = NonNullable<CompileJob["links"]>;

function tagFor(toolchainId: string): string {
  return TAG.test(toolchainId) && toolchainId !== PROBE_TAG ? toolchainId : createHash("sha256").update(toolchainId).digest("hex");
}

/** How one `ensure` went, for stats and tests. */
export interface ImageEvent {
  image: string;
  /** "imported" by this call, or "found" already made (by another process, or earlier). Later uses in this process are not events. */
  how: "imported" | "found";
  ms: number;
}

/**
 * Toolchain images, made without any registry: the unpacked toolchain is
 * streamed as a tar into `import`, labelled and tagged with its toolchain id,
 * and reused by every later job with that toolchain.
 *
 * One import per image at a time: in this process, callers share one
 * promise; across processes, a lock file in the state directory (taken with
 * O_EXCL, holding the owner's pid; a lock whose owner is gone is broken), and
 * whoever gets it looks again before importing. Past `maxImages`, the least
 * recently used toolchain images are removed (`rmi` without force: an image a
 * container still uses stays).
 */
export class ToolchainImages {
  private readonly known = new Map<string, Promise<string>>();
  private readonly touched = new Map<string, number>();
  /** Every `ensure` that went to the engine (tests, stats). */
  readonly events: ImageEvent[] = [];

  constructor(
    private readonly engine: ContainerEngine,
    private readonly repository: string,
    private readonly stateDir: string,
    private readonly maxImages: number,
  ) {}

  ensure(toolchainId: string, toolchainRoot: string, links: JobLinks = []): Promise<string> {
    const image = imageFor(this.repository, toolchainId, links);
    let p = this.known.get(image);
    if (p) {
      this.markUsed(image);
      return p;
    }
    p = this.make(image, toolchainId, toolchainRoot, links);
    this.known.set(image, p);
    p.catch(() => this.known.delete(image));
    return p;
  }

  /** Forgets that an image exists (a run found it gone): the next `ensure` looks again. */
  forget(toolchainId: string, links: JobLinks = []): void {
    this.known.delete(imageFor(this.repository, toolchainId, links));
  }

  async exists(image: string): Promise<boolean> {
    const r = await engineCommand(this.engine, ["image", "inspect", "--format", "{{.Id}}", image]);
    return r.exitCode === 0;
  }

  /** The empty image the probe runs a missing program in: proves the engine can start a container with a job's flags. */
  async probeImage(): Promise<string> {
    const image = `${this.repository}:${PROBE_TAG}`;
    if (await this.exists(image)) return image;
    const unlock = await this.lock(image);
    try {
      // an empty tar: two zero blocks
      if (!(await this.exists(image))) await this.importStream(image, "", Readable.from([Buffer.alloc(1024)]));
    } finally {
      await unlock();
    }
    return image;
  }

  /** Removes every toolchain image of this repository that no container uses (and the probe image). */
  async removeAll(): Promise<string[]> {
    const refs = await this.list();
    const removed: string[] = [];
    for (const ref of [...refs.map((r) => r.ref), `${this.repository}:${PROBE_TAG}`]) {
      const r = await engineCommand(this.engine, ["rmi", ref]);
      if (r.exitCode === 0) removed.push(ref);
      this.known.delete(ref);
    }
    return removed;
  }

  private async make(image: string, toolchainId: string, toolchainRoot: string, links: JobLinks): Promise<string> {
    const t0 = performance.now();
    if (await this.exists(image)) {
      this.events.push({ image, how: "found", ms: performance.now() - t0 });
      this.markUsed(image);
      return image;
    }
    const unlock = await this.lock(image);
    try {
      if (await this.exists(image)) {
        this.events.push({ image, how: "found", ms: performance.now() - t0 });
      } else {
        try {
          statSync(toolchainRoot);
        } catch {
          throw new SandboxError(`toolchain ${toolchainId} is not unpacked at ${toolchainRoot}`);
        }
        await this.importStream(image, toolchainId, Readable.from(treeTar(toolchainRoot, { emptyDirs: IMAGE_DIRS, links: Object.fromEntries(links.map((l) => [l.path.replace(/^\/+/, ""), l.target])) })));
        this.events.push({ image, how: "imported", ms: performance.now() - t0 });
      }
    } finally {
      await unlock();
    }
    this.markUsed(image, true);
    if (this.maxImages > 0) await this.prune(image);
    return image;
  }

  private async importStream(image: string, toolchainId: string, tar: Readable): Promise<void> {
    let readError: Error | undefined;
    tar.on("error", (e: Error) => {
      readError = e;
    });
    const r = await engineCommand(this.engine, ["import", "--change", `LABEL ${TOOLCHAIN_LABEL}=${toolchainId || PROBE_TAG}`, "-", image], {
      input: tar,
      timeout: 30 * 60_000,
    });
    if (readError) {
      // never leave an image of part of a toolchain
      if (r.exitCode === 0) await engineCommand(this.engine, ["rmi", "--force", image]);
      throw new SandboxError(`could not read the toolchain for ${image}`, (readError as Error).message);
    }
    if (r.exitCode !== 0) throw new SandboxError(`${this.engine.kind} import of ${image} failed`, firstLines(r.stderr) || `exit status ${String(r.exitCode)}`);
  }

  /** Takes the cross-process lock of an image; resolves to its release. */
  private async lock(image: string): Promise<() => Promise<void>> {
    this.ensureStateDir();
    const file = join(this.stateDir, `${fileKey(image)}.lock`);
    const deadline = Date.now() + 30 * 60_000;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      try {
        const fh = await open(file, "wx", 0o600);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return () => rm(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new SandboxError(`cannot take the image lock ${file}`, (err as Error).message);
      }
      if (lockIsStale(file)) {
        // Its owner died. Two waiters breaking it at once may both import: one image stays dangling, nothing breaks.
        await rm(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new SandboxError(`gave up waiting for another process importing ${image} (lock ${file})`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private ensureStateDir(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const st = lstatSync(this.stateDir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
      throw new SandboxError(`the state directory ${this.stateDir} is not a directory of this user`);
    }
  }

  /** Records an image's last use (a file's mtime; at most once a minute per image and process). */
  private markUsed(image: string, force = false): void {
    const now = Date.now();
    if (!force && now - (this.touched.get(image) ?? 0) < 60_000) return;
    this.touched.set(image, now);
    void (async () => {
      try {
        this.ensureStateDir();
        const file = join(this.stateDir, `${fileKey(image)}.used`);
        const t = new Date(now);
        await utimes(file, t, t).catch(() => writeFile(file, `${image}\n`));
      } catch {
        // best effort: an image without a record counts as the least recently used
      }
    })();
  }

  private async list(): Promise<{ ref: string }[]> {
    const r = await engineCommand(this.engine, ["images", "--filter", `label=${TOOLCHAIN_LABEL}`, "--format", "{{.Repository}}:{{.Tag}}"]);
    if (r.exitCode !== 0) return [];
    return String(r.stdout)
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith(`${this.repository}:`) && l !== `${this.repository}:${PROBE_TAG}`)
      .map((ref) => ({ ref }));
  }

  /** Removes the least recently used toolchain images past `maxImages`, never `keep`. */
  private async prune(keep: string): Promise<void> {
    const refs = await this.list();
    if (refs.length <= this.maxImages) return;
    const used = new Map<string, number>();
    try {
      for (const name of await readdir(this.stateDir)) {
        if (!name.endsWith(".used")) continue;
        const p = join(this.stateDir, name);
        const ref = readFileSync(p, "utf8").trim();
        used.set(ref, (await stat(p)).mtimeMs);
      }
    } catch {
      // no records: oldest first by name
    }
    const victims = refs
      .filter((r) => r.ref !== keep)
      .sort((a, b) => (used.get(a.ref) ?? 0) - (used.get(b.ref) ?? 0))
      .slice(0, refs.length - this.maxImages);
    for (const v of victims) {
      const r = await engineCommand(this.engine, ["rmi", v.ref]);
      if (r.exitCode === 0) {
        this.known.delete(v.ref);
        await rm(join(this.stateDir, `${fileKey(v.ref)}.used`), { force: true });
      }
    }
  }
}

function fileKey(image: string): string {
  return createHash("sha256").update(image).digest("hex").slice(0, 32);
}

function lockIsStale(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false; // gone already: the next attempt takes it
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    // being written, or garbage: stale once it is old
    try {
      return Date.now() - statSync(file).mtimeMs > 10_000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

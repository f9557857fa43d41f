import { createHash } from "node:crypto";
import { execa } from "execa";
import { SandboxError } from "@reprise/plugin-sandbox-bwrap/layout";
import type { ContainerEngine } from "./engine.js";

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The image reference of a toolchain: `<repository>:<toolchain id>`. */
export function imageFor(repository: string, toolchainId: string): string {
  const tag = TAG.test(toolchainId) ? toolchainId : createHash("sha256").update(toolchainId).digest("hex");
  return `${repository}:${tag}`;
}

/**
 * Toolchain images, made without any registry: the unpacked toolchain is
 * streamed as a tar (owners 0, sorted) into `import`, tagged by toolchain id,
 * and reused by every later job with that toolchain. One import at a time per
 * image in this process; across processes a second import only re-tags.
 */
export class ToolchainImages {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly engine: ContainerEngine,
    private readonly repository: string,
  ) {}

  ensure(toolchainId: string, toolchainRoot: string): Promise<string> {
    const image = imageFor(this.repository, toolchainId);
    let p = this.pending.get(image);
    if (!p) {
      p = this.make(image, toolchainRoot);
      this.pending.set(image, p);
      p.catch(() => this.pending.delete(image));
    }
    return p;
  }

  async exists(image: string): Promise<boolean> {
    const r = await execa(this.engine.path, ["image", "inspect", "--format", "{{.Id}}", image], { reject: false, stdin: "ignore", timeout: 60_000 });
    return r.exitCode === 0;
  }

  private async make(image: string, toolchainRoot: string): Promise<string> {
    if (await this.exists(image)) return image;
    const tar = execa("tar", ["--sort=name", "--numeric-owner", "--owner=0", "--group=0", "-C", toolchainRoot, "-cf", "-", "."], { reject: false, stdin: "ignore", buffer: { stdout: false } });
    const imported = await tar.pipe(this.engine.path, ["import", "-", image], { reject: false });
    const tarResult = await tar;
    if (tarResult.exitCode !== 0) throw new SandboxError(`could not read the toolchain at ${toolchainRoot}`, String(tarResult.stderr).trim());
    if (imported.exitCode !== 0) throw new SandboxError(`${this.engine.kind} import of ${image} failed`, String(imported.stderr).trim());
    return image;
  }
}

/**
 * The linkers a builder offers for Rust links (config `rust.linkTargets`):
 * each target's linker is inspected once at start (plugin-rustc's
 * `inspectLinker`: driver, crt objects, libc/libgcc files, by content) and
 * reported as `link:<triple>:<identity>`; a job's toolchain gets exactly
 * those files, after the identity is checked again.
 */
import { inspectLinker, type LinkerSetup } from "@reprise/plugin-rustc";
import { linkCapability } from "../descriptor.js";
import { ProvideError } from "./types.js";
import type { LinkTarget } from "./index.js";

export class BuilderLinkers {
  private readonly setups = new Map<string, LinkerSetup>();
  private pending?: Promise<void>;

  constructor(
    private readonly targets: LinkTarget[],
    private readonly log: (msg: string) => void,
    private readonly pathEnv: string | undefined = process.env.PATH,
  ) {}

  /** Inspects every configured linker (once); one that cannot be inspected is left out, with the reason logged. */
  ready(): Promise<void> {
    this.pending ??= (async () => {
      for (const t of this.targets) {
        try {
          this.setups.set(t.target, await inspectLinker(t.linker ?? "cc", { cwd: "/", pathEnv: this.pathEnv }));
        } catch (err) {
          this.log(`cannot link for ${t.target}: ${(err as Error).message}`);
        }
      }
    })();
    return this.pending;
  }

  capabilities(): string[] {
    return [...this.setups].map(([target, s]) => linkCapability(target, s.identity)).sort();
  }

  /**
   * The linker files for `target`, checked to be still those reported
   * (undefined when this builder does not link for it). A changed linker is
   * refused: the scheduler was told another identity.
   */
  async verified(target: string): Promise<LinkerSetup | undefined> {
    await this.ready();
    const reported = this.setups.get(target);
    if (!reported) return undefined;
    const now = await inspectLinker(reported.linker, { cwd: "/", pathEnv: this.pathEnv }).catch((err: Error) => {
      throw new ProvideError("mismatch", `the linker for ${target} cannot be inspected any more: ${err.message}`);
    });
    if (now.identity !== reported.identity) {
      throw new ProvideError("mismatch", `the linker for ${target} (${now.driver}, ${now.versionLine}) changed since this builder reported it (identity ${reported.identity}, now ${now.identity}); restart the builder`);
    }
    return now;
  }
}

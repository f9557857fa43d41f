/**
 * Builds (or finds in its cache) the arm64 root once for the whole suite:
 * scripts/setup-cross-arch.sh, keyed by its own content. A machine that cannot
 * build it fails the suite with the script's reason.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { REPO_ROOT } from "../support/reprise-env.js";

declare module "vitest" {
  export interface ProvidedContext {
    aarch64Root: string;
  }
}

export default function setup(project: TestProject): void {
  let root: string;
  try {
    root = execFileSync("bash", [join(REPO_ROOT, "scripts/setup-cross-arch.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 3_600_000 }).trim();
  } catch (err) {
    throw new Error(`the arm64 root for the cross-architecture suite could not be built (scripts/setup-cross-arch.sh): ${(err as Error).message}`);
  }
  project.provide("aarch64Root", root);
}

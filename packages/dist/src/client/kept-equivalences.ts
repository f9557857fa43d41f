/**
 * The equivalence probe's answers (`portableToolchain`: a canary compile and
 * `gcc -E -v`, 0.3–1.5 s) kept across daemons, under the cache directory:
 *
 *   <dir>/dist/equivalences/<sha256 of the key>.json
 *
 * The key holds the compiler's identity (its binaries and version text), the
 * path it is called by, the target, the id of its packaged toolchain archive
 * and this package's version. The archive id is a digest of every file the
 * toolchain holds (the assembler and the libraries the canary's bytes depend
 * on, which the compiler's identity does not cover), and the toolchain cache
 * packages again when one of them changes: a kept answer is never one of
 * another toolchain, nor of another version of the probe.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { PortableToolchain } from "@reprise/core";
import { DIST_VERSION } from "../version.js";

const FORMAT_VERSION = 1;

interface KeptAnswer {
  formatVersion: typeof FORMAT_VERSION;
  key: string;
  /** null: the plugin said this compiler's jobs have no equivalent elsewhere. */
  answer: PortableToolchain | null;
}

export interface EquivalenceKey {
  identity: string;
  compilerPath: string;
  target: string;
  toolchainId: string;
}

export class KeptEquivalences {
  private readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, "dist", "equivalences");
  }

  /** The kept answer for `key` (null: none to give), undefined when none is kept or it cannot be read. */
  get(key: EquivalenceKey): PortableToolchain | null | undefined {
    const text = keyText(key);
    try {
      const kept = JSON.parse(readFileSync(this.file(text), "utf8")) as KeptAnswer;
      if (kept.formatVersion !== FORMAT_VERSION || kept.key !== text) return undefined;
      return kept.answer;
    } catch {
      return undefined;
    }
  }

  /** Keeps the plugin's answer for `key`; a failure to write only costs the next daemon a probe. */
  set(key: EquivalenceKey, answer: PortableToolchain | undefined): void {
    const text = keyText(key);
    const kept: KeptAnswer = { formatVersion: FORMAT_VERSION, key: text, answer: answer ?? null };
    const path = this.file(text);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(tmp, JSON.stringify(kept));
      renameSync(tmp, path);
    } catch {
      // not kept: probed again by the next daemon
    }
  }

  private file(keyText: string): string {
    return join(this.dir, `${createHash("sha256").update(keyText).digest("hex")}.json`);
  }
}

function keyText(key: EquivalenceKey): string {
  return JSON.stringify([DIST_VERSION, key.identity, key.compilerPath, key.target, key.toolchainId]);
}

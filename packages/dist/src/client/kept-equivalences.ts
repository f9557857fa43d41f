/**
 * The equivalence probe's answers (`portableToolchain`: gcc's `-E -v` and a
 * canary compile, 0.3–3 s) kept across daemons, in the cache directory
 * (`dist-equivalences.json`, a `PersistedRecords` file: private, checksummed,
 * a damaged or foreign one ignored).
 *
 * Kept by what the probe's answer depends on that is known at the miss: the
 * compiler's identity as the engine computes it (its binary, the plugin's
 * identity files such as cc1, and its version text, by content), the path it
 * is called by, the target, the engine's plugins and their releases, and this package's version.
 * The assembler and the libraries, which the canary's bytes also depend on,
 * are not in the identity: each answer records the id of the packaged
 * toolchain archive it was probed with (a digest of every file the toolchain
 * holds), and is used only for that archive (`EquivalenceProbe.answer`).
 */
import type { Engine, PortableToolchain } from "@reprise/core";
import { PersistedRecords } from "@reprise/core";
import { DIST_VERSION } from "../version.js";

export interface KeptEquivalence {
  /** The toolchain archive the answer was probed with. */
  toolchainId: string;
  /** null: the plugins said this compiler's jobs have no equivalent elsewhere. */
  answer: PortableToolchain | null;
}

export type KeptEquivalences = PersistedRecords<KeptEquivalence>;

export function keptEquivalences(cacheDir: string, onError?: (err: Error) => void): KeptEquivalences {
  return new PersistedRecords(cacheDir, {
    file: "dist-equivalences.json",
    format: "reprise-dist-equivalences-1",
    maxEntries: 256,
    // Written at once: a probe answers once per compiler, and a daemon stopped within the usual delay would lose it.
    saveDelayMs: 0,
    valid: isKeptEquivalence,
    ...(onError ? { onError } : {}),
  });
}

/** The key of a compiler's answer for `target`. */
export function equivalenceKey(engine: Engine, compiler: { identity: string; path: string }, target: string): string {
  return JSON.stringify([DIST_VERSION, engine.pluginReleases(), compiler.identity, compiler.path, target]);
}

function isKeptEquivalence(v: unknown): v is KeptEquivalence {
  if (!v || typeof v !== "object") return false;
  const k = v as { toolchainId?: unknown; answer?: unknown };
  if (typeof k.toolchainId !== "string" || !k.toolchainId) return false;
  if (k.answer === null) return true;
  const a = k.answer as { equivalence?: unknown; targetArgs?: unknown; files?: unknown } | undefined;
  return (
    !!a &&
    typeof a === "object" &&
    typeof a.equivalence === "string" &&
    a.equivalence.length > 0 &&
    Array.isArray(a.targetArgs) &&
    a.targetArgs.every((x) => typeof x === "string") &&
    Array.isArray(a.files) &&
    a.files.every((x) => typeof x === "string" && x.startsWith("/"))
  );
}

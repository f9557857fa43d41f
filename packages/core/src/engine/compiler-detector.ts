import { realpathSync, statSync } from "node:fs";
import { basename } from "node:path";
import type { Engine } from "./engine.js";
import type { CompilerDetection, CompilerProbe } from "./hooks.js";
import type { CompilerInfo } from "./types.js";
import { KeyHasher } from "../hashing/key-hasher.js";
import { RACY_WINDOW_MS, type FileHashCache } from "../hashing/file-hash-cache.js";
import { PersistedRecords } from "../util/persisted-records.js";
import { compilerDetectionSchema } from "./plugin-results.js";
import { REPRISE_VERSION } from "../version.js";

const PROBE_TIMEOUT_MS = 15_000;

/** execa is ~100 modules (0.1 s of CPU to load): loaded on the first probe, which a daemon that remembers its compilers never makes. */
async function loadExeca() {
  return (await import("execa")).execa;
}

/** What the plugins said a compiler is, kept across daemon restarts (see `CompilerDetector`). */
export type RememberedDetections = PersistedRecords<CompilerDetection & { plugin: string }>;

export function rememberedDetections(cacheRoot: string, onError?: (err: Error) => void): RememberedDetections {
  return new PersistedRecords(cacheRoot, {
    file: "compiler-detections.json",
    format: "reprise-detections-2",
    maxEntries: 256,
    valid: (v): v is CompilerDetection & { plugin: string } => compilerDetectionSchema.safeParse(v).success && typeof (v as { plugin?: unknown }).plugin === "string",
    ...(onError ? { onError } : {}),
  });
}

/**
 * Asks the plugins what a compiler executable is, once per executable: the
 * answer is cached by path, size and mtime of the binary (a compiler upgrade
 * changes them). The identity hashes the binary, the plugin's identity files
 * and its version text.
 *
 * With `remembered`, the plugins' answer also outlives the daemon (a fresh
 * daemon's probes ran six compiler processes, ~60 ms of CPU per compiler):
 * kept by invoked path, real path, the binary's device, inode, size and
 * mtime to the nanosecond (a replaced or rebuilt compiler changes them),
 * Reprise's version and `plugins` (the names of the engine's plugins). Not
 * by ctime: it moves whenever a hard link to the binary is made or removed
 * (a farm builder on the same machine laying out the host's toolchain,
 * `perf`'s build-id cache), which is no change of the compiler; the hit
 * index watches compilers the same way. A binary written within the racy
 * window is not remembered. The identity is hashed again
 * from the files as they are now, so a changed `cc1` still changes it.
 */
export class CompilerDetector {
  private readonly cache = new Map<string, Promise<CompilerInfo | undefined>>();

  constructor(
    private readonly engine: Engine,
    private readonly hashes: FileHashCache,
    private readonly remembered?: { records: RememberedDetections; plugins: string },
  ) {}

  async detect(path: string, env: Readonly<Record<string, string>>): Promise<CompilerInfo | undefined> {
    // realpath(3) in one call: Node's JavaScript realpathSync lstat'ed and readlink'ed each component, per call.
    const real = realpathSync.native(path);
    const st = statSync(real, { bigint: true });
    const key = JSON.stringify([path, real, String(st.dev), String(st.ino), String(st.size), String(st.mtimeNs)]);
    let pending = this.cache.get(key);
    if (!pending) {
      const changedMs = Number(st.mtimeNs) / 1e6;
      const lasting = this.remembered && Date.now() - changedMs > RACY_WINDOW_MS ? JSON.stringify([REPRISE_VERSION, this.remembered.plugins, key]) : undefined;
      pending = this.probeOrRecall(path, real, env, lasting);
      this.cache.set(key, pending);
      pending.catch(() => this.cache.delete(key));
    }
    return pending;
  }

  private async probeOrRecall(path: string, real: string, env: Readonly<Record<string, string>>, lasting: string | undefined): Promise<CompilerInfo | undefined> {
    const records = this.remembered?.records;
    const recalled = lasting ? records?.get(lasting) : undefined;
    if (recalled && recalled.path === path && recalled.realPath === real) return this.identify(recalled, real);
    const detection = await this.probe(path, real, env);
    // Only plain data outlives the daemon: a detection that JSON would change is worked out again each time.
    if (detection && lasting && typeof detection.plugin === "string" && isPlainData(detection)) records?.set(lasting, { ...detection, plugin: detection.plugin });
    return detection && this.identify(detection, real);
  }

  /** The engine's part: the identity hashes the binary, the plugin's identity files and its version text. */
  private async identify(detection: CompilerDetection, real: string): Promise<CompilerInfo> {
    const hasher = new KeyHasher().add("family", detection.family).add("version", detection.versionText);
    for (const file of [real, ...(detection.identityFiles ?? [])]) {
      const digest = await this.hashes.digest(file);
      hasher.add("file", file).add("hash", digest?.hash ?? "missing");
    }
    return { ...detection, identity: hasher.digest() };
  }

  private async probe(path: string, real: string, env: Readonly<Record<string, string>>): Promise<CompilerDetection | undefined> {
    const runs = new Map<string, Promise<{ stdout: string; stderr: string; exitCode: number }>>();
    // Probes run in a neutral locale so that version text does not depend on the caller's LANG.
    const probeEnv = { PATH: env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" };
    const probe: CompilerProbe = {
      path,
      realPath: real,
      invokedName: basename(path),
      run: (args) => {
        const k = args.join("\0");
        let r = runs.get(k);
        if (!r) {
          r = loadExeca().then((execa) => execa(path, args, { env: probeEnv, extendEnv: false, stdin: "ignore", reject: false, timeout: PROBE_TIMEOUT_MS }).then((res) => ({
            stdout: String(res.stdout ?? ""),
            stderr: String(res.stderr ?? ""),
            exitCode: res.exitCode ?? 1,
          })));
          runs.set(k, r);
        }
        return r;
      },
    };
    return this.engine.hooks.detectCompiler.promise(probe);
  }
}

function isPlainData(value: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(JSON.stringify(value))) === JSON.stringify(value) && !containsUndefined(value);
  } catch {
    return false;
  }
}

function containsUndefined(value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.some(containsUndefined);
  if (value && typeof value === "object") return Object.values(value).some(containsUndefined);
  return false;
}

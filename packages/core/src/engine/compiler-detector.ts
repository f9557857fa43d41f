import { realpathSync, statSync } from "node:fs";
import { basename } from "node:path";
import { execa } from "execa";
import type { Engine } from "./engine.js";
import type { CompilerProbe } from "./hooks.js";
import type { CompilerInfo } from "./types.js";
import { KeyHasher } from "../hashing/key-hasher.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";

const PROBE_TIMEOUT_MS = 15_000;

/**
 * Asks the plugins what a compiler executable is, once per executable: the
 * answer is cached by path, size and mtime of the binary (a compiler upgrade
 * changes them). The identity hashes the binary, the plugin's identity files
 * and its version text.
 */
export class CompilerDetector {
  private readonly cache = new Map<string, Promise<CompilerInfo | undefined>>();

  constructor(
    private readonly engine: Engine,
    private readonly hashes: FileHashCache,
  ) {}

  async detect(path: string, env: Readonly<Record<string, string>>): Promise<CompilerInfo | undefined> {
    const real = realpathSync(path);
    const st = statSync(real);
    const key = `${path}\0${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
    let pending = this.cache.get(key);
    if (!pending) {
      pending = this.probe(path, real, env);
      this.cache.set(key, pending);
      pending.catch(() => this.cache.delete(key));
    }
    return pending;
  }

  private async probe(path: string, real: string, env: Readonly<Record<string, string>>): Promise<CompilerInfo | undefined> {
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
          r = execa(path, args, { env: probeEnv, extendEnv: false, stdin: "ignore", reject: false, timeout: PROBE_TIMEOUT_MS }).then((res) => ({
            stdout: String(res.stdout ?? ""),
            stderr: String(res.stderr ?? ""),
            exitCode: res.exitCode ?? 1,
          }));
          runs.set(k, r);
        }
        return r;
      },
    };
    const detection = await this.engine.hooks.detectCompiler.promise(probe);
    if (!detection) return undefined;
    const hasher = new KeyHasher().add("family", detection.family).add("version", detection.versionText);
    for (const file of [real, ...(detection.identityFiles ?? [])]) {
      const digest = await this.hashes.digest(file);
      hasher.add("file", file).add("hash", digest?.hash ?? "missing");
    }
    return { ...detection, identity: hasher.digest() };
  }
}

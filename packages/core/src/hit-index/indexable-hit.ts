import { lstatSync } from "node:fs";
import type { CompileInvocation, CompileRequest, CompilerInfo } from "../engine/types.js";
import type { Settings } from "../config/schema.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import type { CacheEntry, ManifestEntry } from "../storage/codec.js";
import type { Logger } from "../util/logger.js";
import type { DaemonHit, IndexSkip } from "./hit-index.js";
import { indexRequest, jobserverKeyed } from "./index-request.js";

/** The Compile frame payloads of requests in flight, as their clients sent them (set by the daemon's server). */
const wirePayloads = new WeakMap<CompileRequest, Buffer>();

export function rememberWire(request: CompileRequest, payload: Buffer): void {
  wirePayloads.set(request, payload);
}

export interface HitFacts {
  request: CompileRequest;
  settings: Settings;
  compiler: CompilerInfo;
  inv: CompileInvocation;
  storage: CacheStorage;
  log: Logger;
  /** The wall-clock time (ms) the call arrived, before the compiler lookup and config search it was decided on. */
  startedAt: number;
  /** Whether any plugin of the call's project listens to callFinished (it must see every call). */
  pluginsWatchCalls: boolean;
  resultKey: string;
  entry: CacheEntry;
  written: DaemonHit["written"];
  /** `headerTokens`: what the headers were hashed with (none when a manifest was matched, the marker tokens when a miss was stored). */
  direct: { match: ManifestEntry; sourceHash: string; tokens: readonly string[]; headerTokens: readonly string[] };
}

/**
 * A direct-mode hit the client may answer next time, or why only the daemon
 * may: a call that must be logged in detail or told to a plugin, settings
 * that warn, a result that depends on the date or on base directories, or a
 * storage without a local copy to check. Undefined when the call's client
 * does not read the index at all.
 */
export function indexableHit(f: HitFacts): DaemonHit | IndexSkip | undefined {
  const wire = wirePayloads.get(f.request);
  if (!wire) return undefined;
  const request = indexRequest(wire);
  if (f.settings.recache || f.settings.disable || f.settings.warnings.length > 0) return "settings";
  if (f.log.enabled("debug")) return "call-logged-in-detail";
  if (f.pluginsWatchCalls) return "plugin-watches-calls";
  const { match } = f.direct;
  if (match.date) return "date-dependent";
  if (match.root !== undefined) return "bound-to-checkout";
  if (f.settings.baseDirs.length > 0) return "base-dirs";
  if (request !== wire && jobserverKeyed(f.inv.keyEnv, f.request.env)) return "keyed-on-jobserver";
  const resultFile = f.storage.localFile?.("result", f.resultKey);
  if (!resultFile || !lstatSync(resultFile, { throwIfNoEntry: false })?.isFile()) return "no-local-result";
  return {
    request,
    startedAt: f.startedAt,
    cwd: f.request.cwd,
    env: f.request.env,
    compilerName: f.request.argv[0] ?? "",
    compilerPath: f.inv.compileArgv[0] ?? f.compiler.path,
    configFile: f.settings.configFile,
    cacheDir: f.settings.dir,
    cacheSizeBytes: f.settings.cacheSizeBytes,
    resultFile,
    source: { path: f.inv.sourceFile, hash: f.direct.sourceHash, tokens: f.direct.tokens },
    headers: match.files,
    absent: match.absent ?? [],
    headerTokens: f.direct.headerTokens,
    written: f.written,
    stdout: f.entry.stdout,
    stderr: f.entry.stderr,
    exitCode: f.entry.exitCode,
    language: f.inv.language,
    plugin: f.compiler.plugin ?? "",
    compileMs: f.entry.compileMs,
  };
}

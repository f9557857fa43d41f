import type { CompileInvocation, CompileRequest, CompilerInfo } from "./types.js";
import type { Settings } from "../config/schema.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import type { Project } from "../daemon/project-engines.js";
import type { Logger } from "../util/logger.js";

/** What the daemon tells the client at the end of a call. */
export type CallResult =
  | { kind: "done"; exitCode: number; stdout: Buffer; stderr: Buffer }
  /** `compiler` is for logs and stats only: the client runs the compiler it resolves itself. `notice` is for the user's terminal. */
  | { kind: "run-locally"; compiler: string; reason: string; notice?: string };

/** A call's result with the security warnings for the user's terminal (sent first, as stderr). */
export type ServiceResult = CallResult & { notices?: string[] };

/** One cacheable call, once its compiler is known and its arguments parsed. */
export interface Call {
  settings: Settings;
  project: Project;
  request: CompileRequest;
  compiler: CompilerInfo;
  /** The executable the call's argv[0] resolved to. */
  compilerPath: string;
  inv: CompileInvocation;
  storage: CacheStorage;
  started: number;
  /** The wall-clock time (ms) the call arrived, before anything it is decided on was looked at. */
  startedAt: number;
  /** The daemon's logger, or a more detailed one the call asked for (REPRISE_LOG in its environment). */
  log: Logger;
}

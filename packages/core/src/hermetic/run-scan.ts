import { runCompiler } from "../engine/run-compiler.js";
import { ScanHelper } from "./scan-helper.js";
import { silentLogger, type Logger } from "../util/logger.js";

/** What a closure scan said: its exit status and the start of its stderr (for the fallback's reason). */
export interface ScanRun {
  exitCode: number;
  stderr: string;
}

const STDERR_KEPT = 64 * 1024;

/** One per process, started on the first scan. */
let helper: ScanHelper | undefined;

/**
 * Runs a closure scan (`-M -MF file`): its answer is the dependency file, so
 * stdout is not read and only the first bytes of stderr are kept. Every farm
 * and hermetic job that cannot reuse its lookup's preprocessing pays one, so
 * it runs from the scan helper (scan-helper.ts), where a fork is cheap; when
 * the helper is not there, through the same bare spawn as a compile's.
 */
export async function runScan(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>, logger: Logger = silentLogger): Promise<ScanRun> {
  if (process.env.REPRISE_SCAN_HELPER !== "0") {
    helper ??= new ScanHelper();
    helper.onLost = (detail) => logger.warn("the closure-scan helper %s; scans are spawned by the daemon meanwhile", detail);
    const reply = await helper.run(argv, cwd, env);
    if (reply) return { exitCode: reply.exitCode, stderr: reply.stderr };
  }
  const run = await runCompiler(argv, cwd, env, { stdout: false });
  return { exitCode: run.exitCode, stderr: run.stderr.subarray(0, STDERR_KEPT).toString("utf8") };
}

import { runCompiler } from "../engine/run-compiler.js";

/** What a closure scan said: its exit status and the start of its stderr (for the fallback's reason). */
export interface ScanRun {
  exitCode: number;
  stderr: string;
}

const STDERR_KEPT = 64 * 1024;

/**
 * Runs a closure scan (`-M -MF file`): its answer is the dependency file, so
 * stdout is not read and only the first bytes of stderr are kept. It goes
 * through the daemon's compiler launcher like a compile (runCompiler), where
 * a fork is cheap.
 */
export async function runScan(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>): Promise<ScanRun> {
  const run = await runCompiler(argv, cwd, env, { stdout: false });
  return { exitCode: run.exitCode, stderr: run.stderr.subarray(0, STDERR_KEPT).toString("utf8") };
}

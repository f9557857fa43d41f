import { spawn } from "node:child_process";

/** What a closure scan said: its exit status and the start of its stderr (for the fallback's reason). */
export interface ScanRun {
  exitCode: number;
  stderr: string;
}

const STDERR_KEPT = 64 * 1024;

/**
 * Runs a closure scan (`-M -MF file`): its answer is the dependency file, so
 * stdout is not read and only the first bytes of stderr are kept. A bare
 * `spawn` costs the daemon a fraction of what the general compiler runner
 * costs, and every farm and hermetic job pays one scan.
 */
export function runScan(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>): Promise<ScanRun> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    const chunks: Buffer[] = [];
    let kept = 0;
    child.stderr!.on("data", (chunk: Buffer) => {
      if (kept >= STDERR_KEPT) return;
      chunks.push(chunk);
      kept += chunk.length;
    });
    child.once("error", (err) => resolve({ exitCode: 127, stderr: `${argv[0]}: ${err.message}\n` }));
    child.once("close", (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), stderr: Buffer.concat(chunks).toString("utf8").slice(0, STDERR_KEPT) }));
  });
}

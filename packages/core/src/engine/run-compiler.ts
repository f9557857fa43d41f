import { spawn } from "node:child_process";
import { setPriority } from "node:os";
import type { SpawnHelper } from "./spawn-helper.js";

export interface CompilerRun {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

const MAX_OUTPUT = 512 * 1024 * 1024;

/**
 * Runs a compiler command with the caller's exact environment and working
 * directory: through the daemon's launcher when it has one (SpawnHelper),
 * else a plain `child_process.spawn` (a wrapper library's own work per spawn,
 * ~3.5 ms of CPU with execa, measured, would compete with the build's compiles). `stdout: false`: the
 * command's answer is a file it writes (a closure scan's `-MF`), so its
 * stdout is not read (and comes back empty).
 */
export function runCompiler(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>, options: RunOptions = {}): Promise<CompilerRun> {
  const direct = () => spawnCompiler(argv, cwd, env, options);
  return launcher?.run(argv, cwd, env, options, direct, MAX_OUTPUT) ?? direct();
}

export interface RunOptions {
  stdout?: boolean;
  lowPriority?: boolean;
}

let launcher: SpawnHelper | undefined;

/** The daemon's compiler launcher (see SpawnHelper); without one, commands are spawned by this process. */
export function useSpawnHelper(helper: SpawnHelper | undefined): void {
  launcher = helper;
}

function spawnCompiler(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>, options: RunOptions): Promise<CompilerRun> {
  const start = performance.now();
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let overflow = false;
    let settled = false;
    const finish = (run: Omit<CompilerRun, "durationMs">) => {
      if (settled) return;
      settled = true;
      resolve({ ...run, durationMs: performance.now() - start });
    };
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...env }, stdio: ["ignore", options.stdout === false ? "ignore" : "pipe", "pipe"] });
    if (options.lowPriority && child.pid !== undefined) {
      try {
        setPriority(child.pid, 19);
      } catch {
        // already exited
      }
    }
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_OUTPUT) {
        overflow = true;
        child.kill("SIGKILL");
        return;
      }
      into.push(chunk);
    };
    child.stdout?.on("data", collect(stdout));
    child.stderr!.on("data", collect(stderr));
    // Could not start at all (ENOENT, EACCES): report like a shell would.
    child.on("error", (err) => finish({ exitCode: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`${argv[0]}: ${err.message}\n`) }));
    child.on("close", (code, signal) => {
      const err = overflow ? Buffer.from(`${argv[0]}: output over ${MAX_OUTPUT} bytes; killed\n`) : Buffer.alloc(0);
      finish({ exitCode: overflow ? 1 : (code ?? (signal ? 128 : 1)), stdout: Buffer.concat(stdout), stderr: Buffer.concat([...stderr, err]) });
    });
  });
}

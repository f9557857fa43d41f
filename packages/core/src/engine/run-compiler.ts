import { execa } from "execa";

export interface CompilerRun {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

const MAX_OUTPUT = 512 * 1024 * 1024;

/** Runs a compiler command with the caller's exact environment and working directory. */
export async function runCompiler(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>): Promise<CompilerRun> {
  const start = performance.now();
  const res = await execa(argv[0]!, argv.slice(1), {
    cwd,
    env,
    extendEnv: false,
    stdin: "ignore",
    encoding: "buffer",
    stripFinalNewline: false,
    reject: false,
    maxBuffer: MAX_OUTPUT,
  });
  if (res.failed && res.exitCode === undefined) {
    // Could not start at all (ENOENT, EACCES): report like a shell would.
    return { exitCode: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`${res.shortMessage}\n`), durationMs: performance.now() - start };
  }
  return {
    exitCode: res.exitCode ?? (res.signal ? 128 : 1),
    stdout: Buffer.from(res.stdout as Uint8Array),
    stderr: Buffer.from(res.stderr as Uint8Array),
    durationMs: performance.now() - start,
  };
}

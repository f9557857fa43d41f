import { readFileSync, statSync } from "node:fs";
import { removeFile } from "../util/remove-file.js";
import { join } from "node:path";
import type { Logger } from "../util/logger.js";
import { HelperProcess, type HelperAnswer } from "../util/helper-process.js";
import type { CompilerRun } from "./run-compiler.js";

interface Pending {
  argv: readonly string[];
  out: string;
  err: string;
  start: number;
  resolve: (run: CompilerRun) => void;
  /** Runs the command again without the helper (the helper died before answering). */
  retry: () => void;
}

/**
 * Compiles through `reprise-native --spawn-helper` (native/spawn-helper.inc.c):
 * fork() copies the caller's page tables, and the daemon's are large, so a
 * compile spawned by a small long-lived helper costs the machine milliseconds
 * of CPU less per miss. The helper writes each command's stdout and stderr to
 * files in the daemon's private folder and answers with the exit status.
 * If the helper cannot start or dies, commands run through a plain spawn
 * again (the helper's children are killed with it).
 */
export class SpawnHelper {
  private child: HelperProcess | undefined;
  private broken = false;
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly executable: string,
    private readonly tempDir: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs `argv` through the helper; undefined when it cannot (the caller
   * spawns itself). `direct` is that plain spawn, used when the helper dies
   * with the command pending.
   */
  run(
    argv: readonly string[],
    cwd: string,
    env: Readonly<Record<string, string>>,
    options: { stdout?: boolean; lowPriority?: boolean },
    direct: () => Promise<CompilerRun>,
    maxOutput: number,
  ): Promise<CompilerRun> | undefined {
    if (this.broken) return undefined;
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const fields = [cwd, ...argv, ...vars];
    // A NUL cannot cross exec; a plain spawn reports it as Node does.
    if (fields.some((f) => f.includes("\0"))) return undefined;
    const child = this.child ?? this.start();
    if (!child) return undefined;
    const id = String(++this.nextId);
    const out = options.stdout === false ? "" : join(this.tempDir, `spawn-${id}.out`);
    const err = join(this.tempDir, `spawn-${id}.err`);
    const body = Buffer.from([id, options.lowPriority ? "l" : "-", cwd, out, err, String(argv.length), ...argv, String(vars.length), ...vars, ""].join("\0"));
    return new Promise<CompilerRun>((resolve) => {
      const retry = () => void direct().then(resolve);
      this.pending.set(id, { argv, out, err, start: performance.now(), resolve: (run) => resolve(capOutput(run, argv, maxOutput)), retry });
      child.send(body);
    });
  }

  /** Ends the helper once its commands are answered (it exits at the end of its input). */
  close(): void {
    this.broken = true;
    this.child?.end();
  }

  /** The helper's process id while it runs. */
  get pid(): number | undefined {
    return this.broken ? undefined : this.child?.pid;
  }

  private start(): HelperProcess | undefined {
    try {
      this.child = new HelperProcess(this.executable, { answer: (a) => this.answered(a), failed: (why) => this.fail(why) });
      return this.child;
    } catch (err) {
      this.fail((err as Error).message);
      return undefined;
    }
  }

  private answered(a: HelperAnswer): boolean {
    const pending = this.pending.get(a.id);
    if (!pending) return false;
    this.pending.delete(a.id);
    pending.resolve(finished(pending, a.kind, a.value));
    return true;
  }

  private fail(why: string): void {
    if (!this.broken || this.pending.size > 0) this.logger.warn("the compiler launcher stopped (%s); compilers are spawned by the daemon itself from now on", why);
    this.broken = true;
    this.child?.kill();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      removeQuietly(p.out);
      removeQuietly(p.err);
      p.retry();
    }
  }
}

/** The command's result from its status and the files it wrote (removed once read). */
function finished(p: Pending, kind: "x" | "s" | "e", value: number): CompilerRun {
  const durationMs = performance.now() - p.start;
  const read = (path: string) => {
    if (!path) return Buffer.alloc(0);
    try {
      return statSync(path).size === 0 ? Buffer.alloc(0) : readFileSync(path);
    } catch {
      return Buffer.alloc(0);
    } finally {
      removeQuietly(path);
    }
  };
  const stdout = read(p.out);
  const stderr = read(p.err);
  // Could not start at all (ENOENT, EACCES): reported like a shell would, as the plain spawn does.
  if (kind === "e") return { exitCode: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`${p.argv[0]}: spawn ${p.argv[0]} ${errnoName(value)}\n`), durationMs };
  return { exitCode: kind === "x" ? value : 128, stdout, stderr, durationMs };
}

function capOutput(run: CompilerRun, argv: readonly string[], max: number): CompilerRun {
  if (run.stdout.length + run.stderr.length <= max) return run;
  return { ...run, exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`${argv[0]}: output over ${max} bytes\n`) };
}

/** As Node names the error of a spawn that failed. */
function errnoName(errno: number): string {
  const names: Record<number, string> = { 2: "ENOENT", 8: "ENOEXEC", 13: "EACCES", 20: "ENOTDIR", 12: "ENOMEM", 7: "E2BIG" };
  return names[errno] ?? `errno ${errno}`;
}

function removeQuietly(path: string): void {
  if (path) removeFile(path);
}

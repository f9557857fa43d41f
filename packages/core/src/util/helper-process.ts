import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";

/** One answer of the helper: a command's id, how it ended (`x` exit code, `s` signal, `e` errno before it started) and that number. */
export interface HelperAnswer {
  id: string;
  kind: "x" | "s" | "e";
  value: number;
}

export interface HelperHandlers {
  /** An answer; false when its id is not one the owner waits for (the helper is then dropped as talking nonsense). */
  answer(a: HelperAnswer): boolean;
  /** The helper stopped or talked nonsense; heard once, and nothing after it. */
  failed(why: string): void;
}

const ANSWER = /^(\d+) ([xse]) (-?\d+)$/;

/**
 * One running `reprise-native --spawn-helper` (native/spawn-helper.inc.c),
 * shared by the daemon's compiles (SpawnHelper) and the sandboxes' jobs
 * (JobLauncher): length-framed requests go to its input, its answer lines
 * come back to `answer`. It never keeps the process alive by itself.
 * Throws when it cannot be spawned at all.
 */
export class HelperProcess {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private partial = "";
  private stopped = false;

  constructor(executable: string, private readonly handlers: HelperHandlers) {
    const child = spawn(executable, ["--spawn-helper"], { stdio: ["pipe", "pipe", "ignore"] });
    child.stdout.setEncoding("latin1");
    child.stdout.on("data", (chunk: string) => this.lines(chunk));
    child.stdin.on("error", () => this.fail("its input closed"));
    child.on("error", (e) => this.fail(e.message));
    child.on("exit", (code, signal) => this.fail(`exited (${signal ?? code})`));
    child.unref();
    this.child = child;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends one request (its fields, NUL-separated), framed by its length. */
  send(body: Buffer): void {
    const out = Buffer.allocUnsafe(4 + body.length);
    out.writeUInt32LE(body.length, 0);
    body.copy(out, 4);
    this.child.stdin.write(out);
  }

  /** Whether waiting for an answer keeps the Node process alive (on while commands are pending, for owners that may idle). */
  holdOpen(yes: boolean): void {
    const out = this.child.stdout as Socket;
    if (yes) out.ref();
    else out.unref();
  }

  /** Ends its input: it exits once its commands are answered. */
  end(): void {
    this.child.stdin.end();
  }

  /** Kills it (its commands die with it); `failed` is not called for this. */
  kill(): void {
    this.stopped = true;
    this.child.kill("SIGKILL");
  }

  private lines(chunk: string): void {
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) {
      if (this.stopped) return;
      const m = ANSWER.exec(line);
      if (!m || !this.handlers.answer({ id: m[1]!, kind: m[2] as HelperAnswer["kind"], value: Number(m[3]) })) {
        this.fail(`unexpected answer ${JSON.stringify(line.slice(0, 80))}`);
        return;
      }
    }
  }

  private fail(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.handlers.failed(why);
  }
}

import { isListening } from "../client/exchange.js";
import { PROTOCOL_VERSION } from "../protocol/frames.js";
import { runtimeDir, socketPath } from "../util/paths.js";
import { REPRISE_VERSION } from "../version.js";
import type { ExplainAnswer } from "../explain/explain-call.js";

/** What `--explain` needs of the daemon commands (commands.ts). */
export interface DaemonAccess {
  startServer(): Promise<boolean>;
  send(command: string, extra?: Record<string, unknown>): Promise<unknown | undefined>;
}

export const EXPLAIN_USAGE = "usage: reprise --explain [--json] <compiler> [compiler arguments...]";

/**
 * `reprise --explain [--json] <compile command>`: asks the daemon whether the
 * call would hit, without compiling. Exit status: 0 hit, 1 miss or not
 * cacheable, 2 no answer.
 */
export async function explainCommand(args: string[], daemon: DaemonAccess): Promise<number> {
  const json = args[0] === "--json";
  const argv = json ? args.slice(1) : args;
  if (argv.length === 0 || argv[0]!.startsWith("-")) {
    process.stderr.write(`${EXPLAIN_USAGE}\n`);
    return 2;
  }
  if (!(await currentDaemon(daemon))) {
    process.stderr.write(`reprise: could not reach the daemon; see ${runtimeDir()}/daemon.log\n`);
    return 2;
  }
  const reply = (await daemon.send("explain", {
    protocol: PROTOCOL_VERSION,
    argv,
    cwd: process.cwd(),
    env: process.env,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
  })) as (ExplainAnswer & { error?: string }) | undefined;
  if (!reply || reply.error || !reply.result) {
    process.stderr.write(`reprise: ${reply?.error ?? "the daemon did not answer"}\n`);
    return 2;
  }
  if (json) process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
  else process.stdout.write([reply.summary, ...reply.reasons.map((r) => `  ${r}`)].map((l) => `${l}\n`).join(""));
  return reply.result === "hit" ? 0 : 1;
}

/** A daemon of this very version: an older one (which would not know `explain`) is stopped and replaced. */
async function currentDaemon(daemon: DaemonAccess): Promise<boolean> {
  if (!(await daemon.startServer())) return false;
  const ping = (await daemon.send("ping")) as { version?: string; protocol?: number } | undefined;
  if (ping?.version === REPRISE_VERSION && ping.protocol === PROTOCOL_VERSION) return true;
  await daemon.send("stop");
  const sock = socketPath(runtimeDir());
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await isListening(sock))) await new Promise((r) => setTimeout(r, 20));
  return daemon.startServer();
}

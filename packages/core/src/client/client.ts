import { basename } from "node:path";
import { encodeCompileRequest } from "../protocol/frames.js";
import { runtimeDir, socketPath, daemonLogPath } from "../util/paths.js";
import { fileSink, Logger, parseLogLevel } from "../util/logger.js";
import { REPRISE_VERSION } from "../version.js";
import { exchange, isListening, type ExchangeOutcome, type StreamSinks } from "./exchange.js";
import { spawnDaemon } from "./spawn-daemon.js";
import { runLocally } from "./run-locally.js";

const DAEMON_START_TIMEOUT_MS = 10_000;

const sinks: StreamSinks = {
  stdout: (d) => void process.stdout.write(d),
  stderr: (d) => void process.stderr.write(d),
};

/**
 * The thin client: forwards one compiler call to the daemon and relays its
 * answer. Whatever goes wrong with the daemon, the compiler still runs.
 */
export async function runCompilerCall(argv: string[], masqueradeAs: string | undefined): Promise<number> {
  const runtime = runtimeDir();
  const sock = socketPath(runtime);
  const logger = new Logger(parseLogLevel(process.env.REPRISE_LOG, "warn"), fileSink(daemonLogPath(runtime)), "client");
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ""}`);
  const request = encodeCompileRequest({
    clientVersion: REPRISE_VERSION,
    cwd: process.cwd(),
    masqueradeAs: masqueradeAs ?? "",
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    argv,
    env,
  });

  let outcome = await exchange(sock, request, sinks);
  if (outcome.kind === "unreachable" || outcome.kind === "version-mismatch") {
    if (outcome.kind === "version-mismatch") await waitUntilGone(sock);
    try {
      spawnDaemon(runtime);
      outcome = await retryUntilUp(sock, request);
    } catch (err) {
      outcome = { kind: "unreachable", error: `cannot start the daemon: ${(err as Error).message}` };
    }
  }
  switch (outcome.kind) {
    case "exit":
      return outcome.code;
    case "run-locally":
      logger.debug("running %s locally: %s", basename(argv[0] ?? ""), outcome.reason);
      return runLocally(argv, outcome.compiler, masqueradeAs);
    default:
      logger.warn("daemon unavailable (%s); compiling without cache", describe(outcome));
      return runLocally(argv, undefined, masqueradeAs);
  }
}

async function retryUntilUp(sock: string, request: Buffer): Promise<ExchangeOutcome> {
  const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
  let delay = 5;
  let outcome: ExchangeOutcome = { kind: "unreachable", error: "not started" };
  while (Date.now() < deadline) {
    await sleep(delay);
    outcome = await exchange(sock, request, sinks);
    if (outcome.kind !== "unreachable") return outcome;
    delay = Math.min(delay * 2, 100);
  }
  return outcome;
}

async function waitUntilGone(sock: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (!(await isListening(sock, 200))) return;
    await sleep(20);
  }
}

function describe(o: ExchangeOutcome): string {
  return "error" in o ? o.error : o.kind;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

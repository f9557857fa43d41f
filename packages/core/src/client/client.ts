import { basename } from "node:path";
import { encodeCompileRequest } from "../protocol/frames.js";
import { runtimeDir, socketPath, daemonLogPath } from "../util/paths.js";
import { fileSink, Logger, parseLogLevel, silentLogger } from "../util/logger.js";
import { checkedRuntime } from "./checked-runtime.js";
import { readStartupFailure, recentFailureFor } from "../daemon/startup-failure.js";
import { REPRISE_VERSION } from "../version.js";
import { exchange, isListening, type ExchangeOutcome, type StreamSinks } from "./exchange.js";
import { EXIT_LOCK_HELD, spawnDaemon, type SpawnedDaemon } from "./spawn-daemon.js";
import { runLocally } from "./run-locally.js";
import { printNoticeOnce } from "./terminal-notice.js";

const DAEMON_START_TIMEOUT_MS = 10_000;

const sinks: StreamSinks = {
  stdout: (d) => void process.stdout.write(d),
  stderr: (d) => void process.stderr.write(d),
};

type CallOutcome = ExchangeOutcome | { kind: "refused" } | { kind: "daemon-failed"; message: string };

/**
 * The thin client: forwards one compiler call to the daemon and relays its
 * answer. Whatever goes wrong with the daemon, the compiler still runs.
 * Nothing is sent to a runtime directory or socket that another user could
 * control (the request carries the whole environment).
 */
export async function runCompilerCall(argv: string[], masqueradeAs: string | undefined): Promise<number> {
  const runtime = runtimeDir();
  const outcome = await callDaemon(runtime, argv, masqueradeAs);
  const logger = outcome.kind === "refused" ? silentLogger : new Logger(parseLogLevel(process.env.REPRISE_LOG, "warn"), fileSink(daemonLogPath(runtime)), "client");
  switch (outcome.kind) {
    case "exit":
      return outcome.code;
    case "run-locally":
      if (outcome.notice) printNoticeOnce(runtime, outcome.notice);
      logger.debug("running %s locally: %s", basename(argv[0] ?? ""), outcome.reason);
      return runLocally(argv, masqueradeAs);
    case "daemon-failed":
      printNoticeOnce(runtime, outcome.message);
      logger.warn("daemon could not start (%s); compiling without cache", outcome.message);
      return runLocally(argv, masqueradeAs);
    case "refused":
      return runLocally(argv, masqueradeAs);
    default:
      logger.warn("daemon unavailable (%s); compiling without cache", describe(outcome));
      return runLocally(argv, masqueradeAs);
  }
}

async function callDaemon(runtime: string, argv: string[], masqueradeAs: string | undefined): Promise<CallOutcome> {
  const found = checkedRuntime(false, runtime);
  if (found.kind === "refused") return { kind: "refused" };
  if (found.kind === "unusable") return { kind: "unreachable", error: found.error };
  const sock = socketPath(runtime);
  const request = encodeCompileRequest({
    clientVersion: REPRISE_VERSION,
    cwd: process.cwd(),
    masqueradeAs: masqueradeAs ?? "",
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    argv,
    env: Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ""}`),
  });
  let outcome: ExchangeOutcome = found.kind === "ok" && found.socket ? await exchange(sock, request, sinks) : { kind: "unreachable", error: "no daemon" };
  if (outcome.kind !== "unreachable" && outcome.kind !== "version-mismatch") return outcome;
  if (outcome.kind === "version-mismatch") await waitUntilGone(sock);
  const made = checkedRuntime(true, runtime);
  if (made.kind === "refused") return { kind: "refused" };
  if (made.kind !== "ok") return { kind: "unreachable", error: made.kind === "unusable" ? made.error : "runtime dir vanished" };
  // A daemon started from here with these settings failed a moment ago: it would fail again.
  const failed = recentFailureFor(runtime, process.cwd(), process.env);
  if (failed) return { kind: "daemon-failed", message: failed.message };
  try {
    return await retryUntilUp(runtime, sock, request, spawnDaemon(runtime));
  } catch (err) {
    return { kind: "unreachable", error: `cannot start the daemon: ${(err as Error).message}` };
  }
}

/**
 * Waits for the daemon it started (or one another client started) to listen.
 * A daemon that exits with an error has nothing to wait for: its reason,
 * which it leaves in the runtime directory, is the outcome at once.
 */
async function retryUntilUp(runtime: string, sock: string, request: Buffer, daemon: SpawnedDaemon): Promise<CallOutcome> {
  const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
  let delay = 5;
  let outcome: ExchangeOutcome = { kind: "unreachable", error: "not started" };
  while (Date.now() < deadline) {
    await sleep(delay);
    const code = daemon.exitCode;
    if (code !== undefined && code !== EXIT_LOCK_HELD) {
      const reason = readStartupFailure(runtime)?.message;
      return { kind: "daemon-failed", message: reason || `the daemon exited with status ${code} at start-up; see ${daemonLogPath(runtime)}` };
    }
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

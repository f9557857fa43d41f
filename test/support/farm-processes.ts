import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { REPO_ROOT } from "./reprise-env.js";

export const REPRISE_DIST_BIN = join(REPO_ROOT, "packages/dist/dist/bin/reprise-dist.js");

/** A farm process (scheduler or builder) started by a test, with what it printed. */
export interface FarmProcess {
  child: ChildProcess;
  /** The URL it said it listens at. */
  url: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `args` with node and waits for a stdout line "... listening at <url>" (or fails with what it printed). */
export function startNodeProcess(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<FarmProcess> {
  return startListeningProcess(process.execPath, args, env, timeoutMs);
}

/** Starts `command args` and waits for a stdout line "... listening at <url>" (or fails with what it printed). */
export function startListeningProcess(command: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<FarmProcess> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const proc = (url: string): FarmProcess => ({
    child,
    url,
    output: () => out,
    kill: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")} did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const m = /listening (?:at|on) (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(proc(m[1]!));
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited (${code}) before it listened:\n${out}`));
    });
  });
}

export interface SchedulerHandle extends FarmProcess {
  clientToken: string;
  builderToken: string;
}

/** The real scheduler (`reprise-dist scheduler`) on loopback with fresh static tokens; heartbeats every second. */
export async function startRealScheduler(
  dir: string,
  clientToken = `client-${randomBytes(16).toString("hex")}`,
  builderToken = `builder-${randomBytes(16).toString("hex")}`,
  /** More scheduler config keys (docs/dist-builder.md's scheduler section), over these defaults. */
  extra: Record<string, unknown> = {},
): Promise<SchedulerHandle> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "scheduler.json");
  writeFileSync(config, JSON.stringify({ listen: "127.0.0.1:0", auth: { clientTokens: [clientToken], builderTokens: [builderToken] }, heartbeatIntervalMs: 1000, logLevel: "info", ...extra }));
  const p = await startNodeProcess([REPRISE_DIST_BIN, "scheduler", "--config", config]);
  return { ...p, clientToken, builderToken };
}

/** The real scheduler on loopback with fresh tokens, its config in a temporary directory. */
export function startScheduler(extra: Record<string, unknown> = {}): Promise<SchedulerHandle> {
  return startRealScheduler(mkdtempSync(join(tmpdir(), "reprise-scheduler-")), undefined, undefined, extra);
}

export interface BuilderOptions {
  schedulerUrl: string;
  token: string;
  builderId: string;
  dataDir: string;
  sandbox?: string;
  sandboxOptions?: Record<string, unknown>;
  maxJobs?: number;
  extra?: Record<string, unknown>;
}

/** Writes a builder config and starts `reprise-dist builder --config` on a free loopback port. */
export function builderConfig(o: BuilderOptions): string {
  mkdirSync(o.dataDir, { recursive: true });
  const file = join(o.dataDir, "builder.json");
  writeFileSync(
    file,
    JSON.stringify({
      schedulerUrl: o.schedulerUrl,
      token: o.token,
      builderId: o.builderId,
      listen: { host: "127.0.0.1", port: 0 },
      dataDir: join(o.dataDir, "data"),
      sandbox: o.sandbox ?? "bwrap",
      sandboxOptions: o.sandboxOptions ?? {},
      // More slots than cores: the scheduler then never queues a test's make -j8 past its allocation wait.
      maxJobs: o.maxJobs ?? 4,
      // This machine is shared and loaded: the builders must not yield to that load in tests.
      yieldAboveLoad: 10_000,
      logLevel: "info",
      ...o.extra,
    }),
  );
  return file;
}

export function startBuilder(o: BuilderOptions): Promise<FarmProcess> {
  return startNodeProcess([REPRISE_DIST_BIN, "builder", "--config", builderConfig(o)], {}, 120_000);
}

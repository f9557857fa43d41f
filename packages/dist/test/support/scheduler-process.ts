/**
 * Starts `reprise-dist scheduler` as its own process on a free loopback port
 * and speaks the farm protocol to it over real HTTP (undici).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Agent, request, type Dispatcher } from "undici";
import { generateStaticToken } from "../../src/auth/access-token.js";
import { DIST_PROTOCOL_VERSION } from "../../src/protocol/common.js";

export const DIST_BIN = resolve(import.meta.dirname, "../../dist/bin/reprise-dist.js");

export interface SchedulerProcess {
  url: string;
  child: ChildProcess;
  clientToken: string;
  builderToken: string;
  stderr(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra config merged into the file given with --config. */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Node executable (default: this one). */
  node?: string;
  timeoutMs?: number;
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `reprise-dist-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startSchedulerProcess(options: StartOptions = {}): Promise<SchedulerProcess> {
  const dir = tempDir("sched");
  const clientToken = generateStaticToken();
  const builderToken = generateStaticToken();
  const configFile = join(dir.path, "scheduler.json");
  const config = { listen: "127.0.0.1:0", logLevel: "info", ...options.config };
  const auth = (config as { auth?: Record<string, unknown> }).auth ?? {};
  (config as Record<string, unknown>).auth = { clientTokens: [clientToken], builderTokens: [builderToken], ...auth };
  writeFileSync(configFile, JSON.stringify(config));
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const key of Object.keys(env)) if (key.startsWith("REPRISE_DIST_") && !(options.env && key in options.env)) delete env[key];
  const child = spawn(options.node ?? process.execPath, [DIST_BIN, "scheduler", "--config", configFile], { env, cwd: dir.path, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`scheduler did not start in time; stderr: ${stderr}`)), options.timeoutMs ?? 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`scheduler exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    child,
    clientToken,
    builderToken,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      dir.remove();
    },
  };
}

export interface FarmResponse<T = any> {
  status: number;
  body: T;
}

/** One farm request: JSON in, JSON out, protocol header and bearer token set unless overridden. */
export async function farmRequest<T = any>(
  baseUrl: string,
  method: "GET" | "POST" | "PUT",
  path: string,
  options: { token?: string; body?: unknown; protocol?: string | null; dispatcher?: Dispatcher; rawBody?: string | Buffer } = {},
): Promise<FarmResponse<T>> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.protocol !== null) headers["x-reprise-dist-protocol"] = options.protocol ?? String(DIST_PROTOCOL_VERSION);
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await request(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    dispatcher: options.dispatcher,
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
}

/** A simulated builder's registration: nothing runs jobs behind it (tests of the scheduler alone). */
export function simulatedBuilder(builderId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    builderId,
    url: `http://127.0.0.1:9/${builderId}`,
    platform: { arch: process.arch, os: process.platform },
    cores: 2,
    memoryBytes: 4 * 2 ** 30,
    sandboxes: ["bwrap"],
    toolchains: [],
    freeToolchainBytes: 10 * 2 ** 30,
    version: "test",
    maxJobs: 2,
    ...overrides,
  };
}

export function heartbeat(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { runningJobs: 0, loadAvg1: 0, toolchains: [], freeToolchainBytes: 10 * 2 ** 30, acceptingJobs: true, ...overrides };
}

export { Agent };

/** Sends only the head of a request declaring a body of `contentLength` bytes; resolves with the status line the server answers with before any body byte. */
export function declareBody(baseUrl: string, path: string, token: string, contentLength: number): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolveStatus, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nX-Reprise-Dist-Protocol: ${DIST_PROTOCOL_VERSION}\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n`);
    });
    let data = "";
    socket.setTimeout(10_000, () => reject(new Error("no answer before the body was sent")));
    socket.on("data", (d: Buffer) => {
      data += d.toString();
      if (data.includes("\r\n\r\n")) {
        socket.destroy();
        resolveStatus(data);
      }
    });
    socket.on("error", reject);
  });
}

import { createServer, type Server, type Socket } from "node:net";
import { unlinkSync } from "node:fs";
import {
  decodeCompileRequest,
  exitFrame,
  frame,
  FrameReader,
  FrameType,
  MAX_REQUEST_FRAME_BYTES,
  PROTOCOL_VERSION,
  type RunLocallyPayload,
} from "../protocol/frames.js";
import type { CompileService } from "../engine/compile-service.js";
import type { CompileRequest } from "../engine/types.js";
import type { Stats } from "../stats/stats.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import type { Logger } from "../util/logger.js";
import { REPRISE_VERSION } from "../version.js";
import { forgetDescriptions } from "../explain/description-records.js";
import { rememberWire } from "../hit-index/indexable-hit.js";

export interface DaemonOptions {
  socketPath: string;
  service: CompileService;
  stats: Stats;
  /** Every storage in use (of every project), for stats and shutdown. */
  storages: { all(): CacheStorage[]; closeAll(): Promise<void> };
  logger: Logger;
  idleTimeoutSec: number;
  /** The index the native client answers hits from; its hit log is folded into the stats. */
  hitIndex?: { fold(): number; foldNow(): Promise<void>; clear(cacheDir?: string): void; discard(): void };
  /** Called once the daemon has stopped listening and flushed its state. */
  onStopped: () => void;
}

/** A client that has not sent its whole request by then is dropped (its buffer with it). */
const REQUEST_TIMEOUT_MS = 30_000;

type Command =
  | { command: "ping" | "stats" | "zero-stats" | "clear" | "stop"; cwd?: string; env?: Record<string, string> }
  | ExplainCommand;

/** `reprise --explain`: a compiler call to look up, never to run. */
interface ExplainCommand {
  command: "explain";
  protocol: number;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdoutIsTTY?: boolean;
  stderrIsTTY?: boolean;
}

/**
 * Accepts client connections on the private Unix socket: one request per
 * connection, answered with stdout/stderr/exit frames (or "run it locally").
 */
export class DaemonServer {
  private server?: Server;
  private inFlight = 0;
  private idleTimer?: NodeJS.Timeout;
  private persistTimer?: NodeJS.Timeout;
  private foldTimer?: NodeJS.Timeout;
  private stopping = false;

  constructor(private readonly o: DaemonOptions) {}

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        unlinkSync(this.o.socketPath);
      } catch {
        // no stale socket
      }
      const server = createServer((socket) => this.accept(socket));
      server.once("error", reject);
      server.listen(this.o.socketPath, () => {
        server.off("error", reject);
        this.server = server;
        this.persistTimer = setInterval(() => void this.o.stats.persist().catch(() => {}), 5000).unref();
        if (this.o.hitIndex) this.foldTimer = setInterval(() => this.foldHits(), 1000).unref();
        this.armIdleTimer();
        this.o.logger.info("listening on %s (pid %d, version %s)", this.o.socketPath, process.pid, REPRISE_VERSION);
        resolve();
      });
    });
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.o.logger.info("stopping: %s", reason);
    clearTimeout(this.idleTimer);
    clearInterval(this.persistTimer);
    clearInterval(this.foldTimer);
    // New clients see no socket and start a fresh daemon; calls in flight finish first.
    try {
      unlinkSync(this.o.socketPath);
    } catch {
      // already gone
    }
    this.server?.close();
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    await this.o.service.close();
    await this.o.service.settle();
    // Hits clients answered count, and no entry outlives this daemon's plugins and settings (the lock, held until onStopped, keeps the next daemon's index apart).
    await this.o.hitIndex?.foldNow().catch(() => {});
    this.o.hitIndex?.discard();
    await this.o.stats.persist().catch(() => {});
    await this.o.storages.closeAll();
    this.o.onStopped();
  }

  private foldHits(): void {
    try {
      // Hits the clients answered are use too: a daemon whose index serves a build is not idle.
      if ((this.o.hitIndex?.fold() ?? 0) > 0) this.armIdleTimer();
    } catch (err) {
      this.o.logger.warn("could not count the hits the client answered: %s", (err as Error).message);
    }
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.o.idleTimeoutSec <= 0 || this.stopping) return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight === 0) void this.stop(`idle for ${this.o.idleTimeoutSec}s`);
      else this.armIdleTimer();
    }, this.o.idleTimeoutSec * 1000);
  }

  /**
   * One request per connection. A connection holds at most one request frame
   * (MAX_REQUEST_FRAME_BYTES, refused from its length alone), only until the
   * request is complete or REQUEST_TIMEOUT_MS has passed; bytes after the
   * request are not read.
   */
  private accept(socket: Socket): void {
    const reader = new FrameReader(MAX_REQUEST_FRAME_BYTES);
    const timer = setTimeout(() => socket.destroy(), REQUEST_TIMEOUT_MS).unref();
    socket.on("error", () => {});
    socket.on("close", () => clearTimeout(timer));
    const onData = (chunk: Buffer) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.refuse(socket, err);
        return;
      }
      const first = frames[0];
      if (!first) return;
      clearTimeout(timer);
      // Later bytes are read and dropped (not paused: the client's close must still be seen).
      socket.off("data", onData);
      socket.on("data", discard);
      this.inFlight++;
      this.armIdleTimer();
      this.handle(first.type, first.payload, socket)
        .catch((err) => this.o.logger.error("request failed: %s", (err as Error).stack ?? err))
        .finally(() => {
          this.inFlight--;
          socket.end();
          this.armIdleTimer();
        });
    };
    socket.on("data", onData);
  }

  /** Answers a request that cannot be read (oversized, malformed) with an Error frame and closes. */
  private refuse(socket: Socket, err: unknown): void {
    const message = `request refused: ${(err as Error).message}`;
    this.o.logger.warn("bad frame from client: %s", message);
    socket.removeAllListeners("data");
    socket.on("data", discard);
    socket.end(frame(FrameType.Error, JSON.stringify({ error: message })));
    // A client still sending would keep the socket half-open: close it once the answer is flushed.
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private async handle(type: number, payload: Buffer, socket: Socket): Promise<void> {
    if (type === FrameType.Command) return this.command(JSON.parse(payload.toString("utf8")) as Command, socket);
    if (type !== FrameType.Compile) {
      socket.destroy();
      return;
    }
    const wire = decodeCompileRequest(payload);
    if (wire.protocol !== PROTOCOL_VERSION || wire.clientVersion !== REPRISE_VERSION) {
      socket.write(frame(FrameType.VersionMismatch, JSON.stringify({ protocol: PROTOCOL_VERSION, version: REPRISE_VERSION })));
      this.o.logger.info("client of version %s (protocol %d) called; restarting", wire.clientVersion, wire.protocol);
      setImmediate(() => void this.stop("version mismatch"));
      return;
    }
    if (this.stopping) {
      socket.write(runLocallyFrame({ reason: "daemon stopping" }));
      return;
    }
    const request: CompileRequest = {
      argv: wire.argv,
      cwd: wire.cwd,
      env: envFromList(wire.env),
      stdoutIsTTY: wire.stdoutIsTTY,
      stderrIsTTY: wire.stderrIsTTY,
      ...(wire.masqueradeAs ? { masqueradeAs: wire.masqueradeAs } : {}),
    };
    // Only a client that reads the hit index is worth the daemon's work of keeping it.
    if (wire.readsHitIndex) rememberWire(request, payload);
    const result = await this.o.service.run(request);
    // Warnings for the user travel as stderr, which both clients print as they come.
    if (result.notices?.length) socket.write(frame(FrameType.Stderr, result.notices.map((n) => `reprise: warning: ${n}\n`).join("")));
    if (result.kind === "run-locally") {
      socket.write(runLocallyFrame({ reason: result.reason, ...(result.notice ? { notice: result.notice } : {}) }));
      return;
    }
    if (result.stdout.length) socket.write(frame(FrameType.Stdout, result.stdout));
    if (result.stderr.length) socket.write(frame(FrameType.Stderr, result.stderr));
    socket.write(exitFrame(result.exitCode));
  }

  private async explain(cmd: ExplainCommand): Promise<unknown> {
    if (cmd.protocol !== PROTOCOL_VERSION) return { error: `protocol ${String(cmd.protocol)} is not the daemon's (${PROTOCOL_VERSION})`, protocol: PROTOCOL_VERSION };
    if (!isStringList(cmd.argv) || cmd.argv.length === 0 || typeof cmd.cwd !== "string" || typeof cmd.env !== "object" || cmd.env === null) {
      return { error: "explain needs argv (the compile command), cwd and env" };
    }
    const env = Object.fromEntries(Object.entries(cmd.env).filter((e): e is [string, string] => typeof e[1] === "string"));
    const request: CompileRequest = { argv: cmd.argv, cwd: cmd.cwd, env, stdoutIsTTY: cmd.stdoutIsTTY === true, stderrIsTTY: cmd.stderrIsTTY === true };
    try {
      return await this.o.service.explain(request);
    } catch (err) {
      return { error: `cannot explain this call: ${(err as Error).message}` };
    }
  }

  private async command(cmd: Command, socket: Socket): Promise<void> {
    const reply = (data: unknown) => socket.write(frame(FrameType.Reply, JSON.stringify(data)));
    switch (cmd.command) {
      case "ping":
        reply({ version: REPRISE_VERSION, protocol: PROTOCOL_VERSION, pid: process.pid });
        return;
      case "stats": {
        // Stores still running after their calls were answered count as done, and so do hits the client answered.
        await this.o.service.settle();
        await this.o.hitIndex?.foldNow().catch(() => {});
        if (cmd.cwd) await this.o.service.storageFor(cmd.cwd, cmd.env ?? {}).catch(() => undefined);
        const settings = cmd.cwd ? await this.o.service.settingsFor(cmd.cwd, cmd.env ?? {}).catch((err: Error) => err) : undefined;
        const storages = await Promise.all(
          this.o.storages.all().map(async (s) => ({ kind: s.kind, location: s.location, ...(await s.usage()), ...(s.levelStats ? { levels: s.levelStats() } : {}) })),
        );
        const config = settings instanceof Error ? { configError: settings.message } : { configFile: settings?.configFile ?? null };
        reply({ version: REPRISE_VERSION, pid: process.pid, stats: this.o.stats.snapshot(), storages, ...config });
        return;
      }
      case "clear": {
        await this.o.service.settle();
        try {
          const storage = await this.o.service.storageFor(cmd.cwd ?? process.cwd(), cmd.env ?? {});
          const before = await storage.usage();
          await storage.clear();
          const { dir } = await this.o.service.settingsFor(cmd.cwd ?? process.cwd(), cmd.env ?? {});
          // The explanations of the removed entries go with them (the log is kept in the cache directory whatever the storage).
          await forgetDescriptions(dir);
          this.o.service.forgetEntries();
          this.o.hitIndex?.clear(dir);
          reply({ ok: true, kind: storage.kind, location: storage.location, removedBytes: before.sizeBytes, removedEntries: before.entries });
        } catch (err) {
          reply({ error: (err as Error).message });
        }
        return;
      }
      case "zero-stats":
        await this.o.service.settle();
        await this.o.hitIndex?.foldNow().catch(() => {});
        this.o.stats.zero();
        for (const s of this.o.storages.all()) s.resetLevelStats?.();
        await this.o.stats.persist();
        reply({ ok: true });
        return;
      case "explain":
        reply(await this.explain(cmd));
        return;
      case "stop":
        reply({ ok: true, pid: process.pid });
        setImmediate(() => void this.stop("requested"));
        return;
      default:
        reply({ error: `unknown command ${JSON.stringify((cmd as { command?: unknown }).command)}` });
    }
  }
}

function discard(): void {}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function runLocallyFrame(payload: RunLocallyPayload): Buffer {
  return frame(FrameType.RunLocally, JSON.stringify(payload));
}

function envFromList(list: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

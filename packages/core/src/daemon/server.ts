import { createServer, type Server, type Socket } from "node:net";
import { unlinkSync } from "node:fs";
import { decodeCompileRequest, exitFrame, frame, FrameReader, FrameType, PROTOCOL_VERSION } from "../protocol/frames.js";
import type { CompileService } from "../engine/compile-service.js";
import type { CompileRequest } from "../engine/types.js";
import type { Stats } from "../stats/stats.js";
import type { StorageRegistry } from "../storage/storage-registry.js";
import type { Logger } from "../util/logger.js";
import { REPRISE_VERSION } from "../version.js";

export interface DaemonOptions {
  socketPath: string;
  service: CompileService;
  stats: Stats;
  storages: StorageRegistry;
  logger: Logger;
  idleTimeoutSec: number;
  /** Called once the daemon has stopped listening and flushed its state. */
  onStopped: () => void;
}

type Command = { command: "ping" | "stats" | "zero-stats" | "clear" | "stop"; cwd?: string; env?: Record<string, string> };

/**
 * Accepts client connections on the private Unix socket: one request per
 * connection, answered with stdout/stderr/exit frames (or "run it locally").
 */
export class DaemonServer {
  private server?: Server;
  private inFlight = 0;
  private idleTimer?: NodeJS.Timeout;
  private persistTimer?: NodeJS.Timeout;
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
    // New clients see no socket and start a fresh daemon; calls in flight finish first.
    try {
      unlinkSync(this.o.socketPath);
    } catch {
      // already gone
    }
    this.server?.close();
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    await this.o.service.settle();
    await this.o.stats.persist().catch(() => {});
    await this.o.storages.closeAll();
    this.o.onStopped();
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.o.idleTimeoutSec <= 0 || this.stopping) return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight === 0) void this.stop(`idle for ${this.o.idleTimeoutSec}s`);
      else this.armIdleTimer();
    }, this.o.idleTimeoutSec * 1000);
  }

  private accept(socket: Socket): void {
    const reader = new FrameReader();
    let handled = false;
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      if (handled) return;
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.o.logger.warn("bad frame from client: %s", (err as Error).message);
        socket.destroy();
        return;
      }
      const first = frames[0];
      if (!first) return;
      handled = true;
      this.inFlight++;
      this.armIdleTimer();
      this.handle(first.type, first.payload, socket)
        .catch((err) => this.o.logger.error("request failed: %s", (err as Error).stack ?? err))
        .finally(() => {
          this.inFlight--;
          socket.end();
          this.armIdleTimer();
        });
    });
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
      socket.write(frame(FrameType.RunLocally, JSON.stringify({ compiler: wire.argv[0] ?? "", reason: "daemon stopping" })));
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
    const result = await this.o.service.run(request);
    if (result.kind === "run-locally") {
      socket.write(frame(FrameType.RunLocally, JSON.stringify({ compiler: result.compiler, reason: result.reason })));
      return;
    }
    if (result.stdout.length) socket.write(frame(FrameType.Stdout, result.stdout));
    if (result.stderr.length) socket.write(frame(FrameType.Stderr, result.stderr));
    socket.write(exitFrame(result.exitCode));
  }

  private async command(cmd: Command, socket: Socket): Promise<void> {
    const reply = (data: unknown) => socket.write(frame(FrameType.Reply, JSON.stringify(data)));
    switch (cmd.command) {
      case "ping":
        reply({ version: REPRISE_VERSION, protocol: PROTOCOL_VERSION, pid: process.pid });
        return;
      case "stats": {
        // Stores still running after their calls were answered count as done.
        await this.o.service.settle();
        if (cmd.cwd) await this.o.service.storageFor(cmd.cwd, cmd.env ?? {}).catch(() => undefined);
        const settings = cmd.cwd ? await this.o.service.settingsFor(cmd.cwd, cmd.env ?? {}).catch((err: Error) => err) : undefined;
        const storages = await Promise.all(
          this.o.storages.all().map(async (s) => ({ kind: s.kind, location: s.location, ...(await s.usage()) })),
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
          this.o.service.forgetEntries();
          reply({ ok: true, kind: storage.kind, location: storage.location, removedBytes: before.sizeBytes, removedEntries: before.entries });
        } catch (err) {
          reply({ error: (err as Error).message });
        }
        return;
      }
      case "zero-stats":
        await this.o.service.settle();
        this.o.stats.zero();
        await this.o.stats.persist();
        reply({ ok: true });
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

function envFromList(list: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

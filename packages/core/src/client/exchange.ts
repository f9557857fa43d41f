import { connect } from "node:net";
import { FrameReader, FrameType, type RunLocallyPayload } from "../protocol/frames.js";
import { probeSocket } from "../util/socket-probe.js";

export type ExchangeOutcome =
  | { kind: "exit"; code: number }
  | { kind: "run-locally"; reason: string; notice?: string }
  | { kind: "version-mismatch" }
  | { kind: "reply"; data: unknown }
  | { kind: "unreachable"; error: string }
  | { kind: "broken"; error: string };

export interface StreamSinks {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
}

/**
 * Sends one request frame and reads the daemon's answer, passing stream
 * frames on as they arrive. Never throws: every failure is an outcome the
 * caller can fall back on.
 */
export function exchange(socketPath: string, request: Buffer, sinks: StreamSinks, connectTimeoutMs = 2000): Promise<ExchangeOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const finish = (o: ExchangeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const socket = connect(socketPath);
    const timer = setTimeout(() => finish({ kind: "unreachable", error: "connect timed out" }), connectTimeoutMs);
    const reader = new FrameReader();
    socket.on("connect", () => {
      connected = true;
      clearTimeout(timer);
      socket.write(request);
    });
    socket.on("data", (chunk) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        finish({ kind: "broken", error: (err as Error).message });
        return;
      }
      for (const f of frames) {
        switch (f.type) {
          case FrameType.Stdout:
            sinks.stdout(f.payload);
            break;
          case FrameType.Stderr:
            sinks.stderr(f.payload);
            break;
          case FrameType.Exit:
            finish({ kind: "exit", code: f.payload.readInt32BE(0) });
            return;
          case FrameType.RunLocally: {
            // Any compiler path a (possibly foreign) daemon names is ignored: the client resolves its own.
            const { reason, notice } = JSON.parse(f.payload.toString("utf8")) as RunLocallyPayload;
            finish({ kind: "run-locally", reason: String(reason), ...(typeof notice === "string" && notice ? { notice } : {}) });
            return;
          }
          case FrameType.Error: {
            finish({ kind: "broken", error: `daemon refused the request: ${f.payload.toString("utf8")}` });
            return;
          }
          case FrameType.VersionMismatch:
            finish({ kind: "version-mismatch" });
            return;
          case FrameType.Reply:
            finish({ kind: "reply", data: JSON.parse(f.payload.toString("utf8")) });
            return;
          default:
            finish({ kind: "broken", error: `unknown frame type ${f.type}` });
            return;
        }
      }
    });
    socket.on("error", (err) => finish(connected ? { kind: "broken", error: err.message } : { kind: "unreachable", error: err.message }));
    socket.on("close", () => finish(connected ? { kind: "broken", error: "daemon closed the connection" } : { kind: "unreachable", error: "closed" }));
  });
}

/** Whether something accepts connections on the socket (without sending it anything). */
export function isListening(socketPath: string, timeoutMs = 500): Promise<boolean> {
  return probeSocket(socketPath, { timeoutMs, whenSilent: false });
}

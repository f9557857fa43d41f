/**
 * The client–daemon wire format. Deliberately tiny so that a native client in
 * C can speak it; documented in docs/protocol.md. Every frame is
 *   u32 big-endian length L | u8 type | L-1 bytes payload
 * This module has no dependencies: the client loads it on every call.
 */
export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export const FrameType = {
  /** client → daemon: a compiler call (binary payload, see encodeCompileRequest). */
  Compile: 0x01,
  /** client → daemon: an administrative command (JSON payload). */
  Command: 0x02,
  /** daemon → client: bytes for the client's stdout. */
  Stdout: 0x10,
  /** daemon → client: bytes for the client's stderr. */
  Stderr: 0x11,
  /** daemon → client: the call is over; payload is an i32 exit status. */
  Exit: 0x12,
  /** daemon → client: run the compiler yourself; JSON {compiler, reason}. */
  RunLocally: 0x13,
  /** daemon → client: the daemon speaks another version; JSON {protocol, version}. It is shutting down. */
  VersionMismatch: 0x14,
  /** daemon → client: reply to a Command; JSON. */
  Reply: 0x15,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export function frame(type: FrameType, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.allocUnsafe(5);
  header.writeUInt32BE(body.length + 1, 0);
  header[4] = type;
  return Buffer.concat([header, body]);
}

export function exitFrame(code: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(code, 0);
  return frame(FrameType.Exit, b);
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const frames: { type: number; payload: Buffer }[] = [];
    while (this.buffered.length >= 5) {
      const len = this.buffered.readUInt32BE(0);
      if (len < 1 || len > MAX_FRAME_BYTES) throw new Error(`bad frame length ${len}`);
      if (this.buffered.length < 4 + len) break;
      frames.push({ type: this.buffered[4]!, payload: this.buffered.subarray(5, 4 + len) });
      this.buffered = this.buffered.subarray(4 + len);
    }
    return frames;
  }
}

/**
 * Compile request payload:
 *   u32 protocol version | u8 flags (1 = stdout is a TTY, 2 = stderr is a TTY)
 *   client version\0 cwd\0 masquerade-path\0 (empty when not masquerading)
 *   u32 argc | argv strings each \0-terminated
 *   u32 envc | "NAME=value" strings each \0-terminated
 */
export interface WireCompileRequest {
  protocol: number;
  clientVersion: string;
  cwd: string;
  masqueradeAs: string;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  argv: string[];
  env: string[];
}

export function encodeCompileRequest(r: Omit<WireCompileRequest, "protocol">): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(PROTOCOL_VERSION, 0);
  head[4] = (r.stdoutIsTTY ? 1 : 0) | (r.stderrIsTTY ? 2 : 0);
  parts.push(head, Buffer.from(`${r.clientVersion}\0${r.cwd}\0${r.masqueradeAs}\0`));
  const list = (items: string[]) => {
    const n = Buffer.allocUnsafe(4);
    n.writeUInt32BE(items.length, 0);
    parts.push(n, Buffer.from(items.map((s) => `${s}\0`).join("")));
  };
  list(r.argv);
  list(r.env);
  return frame(FrameType.Compile, Buffer.concat(parts));
}

export function decodeCompileRequest(payload: Buffer): WireCompileRequest {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > payload.length) throw new Error("truncated compile request");
  };
  const u32 = () => {
    need(4);
    const v = payload.readUInt32BE(pos);
    pos += 4;
    return v;
  };
  const str = () => {
    const end = payload.indexOf(0, pos);
    if (end < 0) throw new Error("unterminated string in compile request");
    const s = payload.toString("utf8", pos, end);
    pos = end + 1;
    return s;
  };
  const protocol = u32();
  need(1);
  const flags = payload[pos++]!;
  if (protocol !== PROTOCOL_VERSION) {
    return { protocol, clientVersion: "", cwd: "", masqueradeAs: "", stdoutIsTTY: false, stderrIsTTY: false, argv: [], env: [] };
  }
  const clientVersion = str();
  const cwd = str();
  const masqueradeAs = str();
  const argv: string[] = [];
  for (let n = u32(); n > 0; n--) argv.push(str());
  const env: string[] = [];
  for (let n = u32(); n > 0; n--) env.push(str());
  return { protocol, clientVersion, cwd, masqueradeAs, stdoutIsTTY: (flags & 1) !== 0, stderrIsTTY: (flags & 2) !== 0, argv, env };
}

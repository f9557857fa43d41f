/**
 * The client–daemon wire format. Deliberately tiny so that a native client in
 * C can speak it; documented in docs/protocol.md. Every frame is
 *   u32 big-endian length L | u8 type | L-1 bytes payload
 * This module has no dependencies: the client loads it on every call.
 */
export const PROTOCOL_VERSION = 3;
/** Largest frame a client accepts from the daemon (compiler output can be large). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/**
 * Largest frame the daemon accepts: argv and environment of one call, far
 * above what execve allows, far below what would let one connection eat the
 * daemon's memory.
 */
export const MAX_REQUEST_FRAME_BYTES = 16 * 1024 * 1024;

/** A frame whose length is 0 or above the reader's limit: the stream cannot be trusted any further. */
export class FrameLengthError extends Error {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(length < 1 ? `bad frame length ${length}` : `frame of ${length} bytes exceeds the limit of ${limit} bytes`);
    this.name = "FrameLengthError";
  }
}

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
  /**
   * daemon → client: run the compiler yourself; JSON {reason, notice?}. Which
   * compiler is the client's own decision (its argv and PATH), never the daemon's.
   */
  RunLocally: 0x13,
  /** daemon → client: the daemon speaks another version; JSON {protocol, version}. It is shutting down. */
  VersionMismatch: 0x14,
  /** daemon → client: reply to a Command; JSON. */
  Reply: 0x15,
  /** daemon → client: the request was refused (oversized, malformed); JSON {error}. The daemon closes. */
  Error: 0x16,
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

/** What a RunLocally frame says: why, and optionally a line the user must see (a bad setting). */
export interface RunLocallyPayload {
  reason: string;
  notice?: string;
}

export interface Frame {
  type: number;
  payload: Buffer;
}

/**
 * Splits a byte stream into frames. Chunks are kept in a list and each byte
 * is copied at most once, when its frame is complete, so reading is linear in
 * the frame's size; a length above `maxFrameBytes` is refused as soon as its
 * 4 bytes arrive, before any of the payload is buffered.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  /** Bytes held for a frame not yet complete. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.buffered >= 4) {
      const len = this.peekLength();
      if (len < 1 || len > this.maxFrameBytes) throw new FrameLengthError(len, this.maxFrameBytes);
      if (this.buffered < 4 + len) break;
      const whole = this.take(4 + len);
      frames.push({ type: whole[4]!, payload: whole.subarray(5) });
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let n = 0;
    for (const c of this.chunks) {
      n += c.copy(head, n, 0, Math.min(c.length, 4 - n));
      if (n === 4) break;
    }
    return head.readUInt32BE(0);
  }

  /** Removes and returns the first n buffered bytes (n ≤ buffered). */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/**
 * Compile request payload:
 *   u32 protocol version | u8 flags (1 = stdout is a TTY, 2 = stderr is a TTY, 4 = reads the hit index)
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
  /** Flag 4: the client answers hits from the daemon's hit index (the native client), so the daemon keeps it. */
  readsHitIndex?: boolean;
  argv: string[];
  env: string[];
}

export function encodeCompileRequest(r: Omit<WireCompileRequest, "protocol">): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(PROTOCOL_VERSION, 0);
  head[4] = (r.stdoutIsTTY ? 1 : 0) | (r.stderrIsTTY ? 2 : 0) | (r.readsHitIndex ? 4 : 0);
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
  return { protocol, clientVersion, cwd, masqueradeAs, stdoutIsTTY: (flags & 1) !== 0, stderrIsTTY: (flags & 2) !== 0, ...((flags & 4) !== 0 ? { readsHitIndex: true } : {}), argv, env };
}

import { describe, expect, it } from "vitest";
import {
  decodeCompileRequest,
  encodeCompileRequest,
  exitFrame,
  frame,
  FrameLengthError,
  FrameReader,
  FrameType,
  MAX_REQUEST_FRAME_BYTES,
  PROTOCOL_VERSION,
} from "../../src/protocol/frames.js";

describe("frames", () => {
  it("round-trips a compile request with unicode, empty strings and '=' in values", () => {
    const req = {
      clientVersion: "0.1.0",
      cwd: "/tmp/dir with spaces/é",
      masqueradeAs: "",
      stdoutIsTTY: false,
      stderrIsTTY: true,
      argv: ["gcc", "-DX=a=b", "", "-c", "ü.c"],
      env: ["PATH=/usr/bin", "EMPTY=", "A=b=c"],
    };
    const bytes = encodeCompileRequest(req);
    const [f] = new FrameReader().push(bytes);
    expect(f!.type).toBe(FrameType.Compile);
    expect(decodeCompileRequest(f!.payload)).toEqual({ ...req, protocol: PROTOCOL_VERSION });
  });

  it("reassembles frames split at every byte boundary", () => {
    const stream = Buffer.concat([frame(FrameType.Stdout, "out"), frame(FrameType.Stderr, Buffer.alloc(70_000, 7)), exitFrame(-3)]);
    for (const cut of [1, 3, 5, 9, 70_000]) {
      const reader = new FrameReader();
      const got = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      expect(got.map((g) => g.type)).toEqual([FrameType.Stdout, FrameType.Stderr, FrameType.Exit]);
      expect(got[1]!.payload.length).toBe(70_000);
      expect(got[2]!.payload.readInt32BE(0)).toBe(-3);
    }
  });

  it("rejects an absurd frame length instead of buffering forever", () => {
    const bad = Buffer.from([0xff, 0xff, 0xff, 0xff, 1]);
    expect(() => new FrameReader().push(bad)).toThrow(/exceeds the limit/);
    expect(() => new FrameReader().push(Buffer.from([0, 0, 0, 0, 1]))).toThrow(/bad frame length 0/);
  });

  it("refuses an oversized frame from its 4 length bytes, before buffering any payload", () => {
    const reader = new FrameReader(MAX_REQUEST_FRAME_BYTES);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_REQUEST_FRAME_BYTES + 1, 0);
    expect(reader.push(head.subarray(0, 2))).toEqual([]);
    const err = (() => {
      try {
        reader.push(head.subarray(2));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FrameLengthError);
    expect((err as FrameLengthError).length).toBe(MAX_REQUEST_FRAME_BYTES + 1);
  });

  it("reassembles a frame sent one byte at a time, and frames packed in one chunk", () => {
    const stream = Buffer.concat([frame(FrameType.Stdout, "héllo"), exitFrame(3), frame(FrameType.Reply, "{}")]);
    const reader = new FrameReader();
    const got = [];
    for (let i = 0; i < stream.length; i++) got.push(...reader.push(stream.subarray(i, i + 1)));
    expect(got.map((g) => [g.type, g.payload.toString("latin1")])).toEqual(
      new FrameReader().push(stream).map((g) => [g.type, g.payload.toString("latin1")]),
    );
    expect(got[0]!.payload.toString()).toBe("héllo");
    expect(reader.pendingBytes).toBe(0);
  });

  it("reads a frame at the request limit, arriving in 4 KiB chunks, in linear time", () => {
    // Concatenating on every chunk copied ~32 GiB for this frame (quadratic); a chunk list copies it once.
    const payload = Buffer.alloc(MAX_REQUEST_FRAME_BYTES - 1, 0x61);
    const whole = frame(FrameType.Compile, payload);
    const reader = new FrameReader(MAX_REQUEST_FRAME_BYTES);
    const started = performance.now();
    const got = [];
    for (let i = 0; i < whole.length; i += 4096) got.push(...reader.push(whole.subarray(i, i + 4096)));
    const ms = performance.now() - started;
    expect(got).toHaveLength(1);
    expect(got[0]!.payload.equals(payload)).toBe(true);
    expect(ms).toBeLessThan(2000);
  });

  it("reports another protocol version without parsing the rest", () => {
    const payload = Buffer.alloc(5);
    payload.writeUInt32BE(99, 0);
    expect(decodeCompileRequest(payload).protocol).toBe(99);
  });
});

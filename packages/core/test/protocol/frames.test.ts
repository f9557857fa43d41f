import { describe, expect, it } from "vitest";
import { decodeCompileRequest, encodeCompileRequest, exitFrame, frame, FrameReader, FrameType, PROTOCOL_VERSION } from "../../src/protocol/frames.js";

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
    expect(() => new FrameReader().push(bad)).toThrow(/bad frame length/);
  });

  it("reports another protocol version without parsing the rest", () => {
    const payload = Buffer.alloc(5);
    payload.writeUInt32BE(99, 0);
    expect(decodeCompileRequest(payload).protocol).toBe(99);
  });
});

import { describe, expect, it } from "vitest";
import { decodeCompileRequest, encodeCompileRequest } from "../../src/protocol/frames.js";
import { indexRequest, jobserverKeyed } from "../../src/hit-index/index-request.js";

/** The Compile payload (after the 5-byte frame head) the native client sends for this argv and environment. */
function payload(argv: string[], env: string[]): Buffer {
  return encodeCompileRequest({ stdoutIsTTY: false, stderrIsTTY: false, readsHitIndex: true, clientVersion: "0.1.0", cwd: "/w", masqueradeAs: "", argv, env }).subarray(5);
}

const ARGV = ["gcc", "-c", "a.c", "-o", "a.o"];

describe("the request the hit index names and compares", () => {
  it("is the payload itself when no MAKEFLAGS or MFLAGS names a jobserver", () => {
    for (const env of [["PATH=/usr/bin"], ["PATH=/usr/bin", "MAKEFLAGS= -j2 -k", "MFLAGS=-k"], []]) {
      const p = payload(ARGV, env);
      expect(indexRequest(p)).toBe(p);
    }
  });

  it("leaves out only the jobserver's words, so two make runs with other FIFOs give the same request", () => {
    const a = indexRequest(payload(ARGV, ["PATH=/usr/bin", "MAKEFLAGS= -j2 --jobserver-auth=fifo:/tmp/GMfifo111", "MAKELEVEL=1", "MFLAGS=-j2 --jobserver-auth=fifo:/tmp/GMfifo111"]));
    const b = indexRequest(payload(ARGV, ["PATH=/usr/bin", "MAKEFLAGS= -j2 --jobserver-auth=fifo:/tmp/GMfifo222", "MAKELEVEL=1", "MFLAGS=-j2 --jobserver-auth=fifo:/tmp/GMfifo222"]));
    expect(a.equals(b)).toBe(true);
    const decoded = decodeCompileRequest(a);
    expect(decoded.env).toEqual(["PATH=/usr/bin", "MAKEFLAGS= -j2", "MAKELEVEL=1", "MFLAGS=-j2"]);
    expect(decoded.argv).toEqual(ARGV);
  });

  it("keeps every other difference: other make flags, the fds form's neighbours, argv that merely mentions a jobserver", () => {
    const k = indexRequest(payload(ARGV, ["MAKEFLAGS=-k -j2 --jobserver-fds=3,4 --jobserver-auth=3,4"]));
    const j = indexRequest(payload(ARGV, ["MAKEFLAGS=-j2 --jobserver-fds=3,4 --jobserver-auth=3,4"]));
    expect(k.equals(j)).toBe(false);
    expect(decodeCompileRequest(k).env).toEqual(["MAKEFLAGS=-k -j2"]);
    const argv = [...ARGV, "-DX=--jobserver-auth=fifo:/tmp/x"];
    const withArg = payload(argv, ["PATH=/usr/bin"]);
    expect(indexRequest(withArg)).toBe(withArg);
    // Spaces kept as they were around what remains (the native client splits and joins the same way).
    expect(decodeCompileRequest(indexRequest(payload(ARGV, ["MAKEFLAGS=a --jobserver-auth=x  b "]))).env).toEqual(["MAKEFLAGS=a  b "]);
  });

  it("says when a call keys on a jobserver variable that names a jobserver (no entry is then written)", () => {
    expect(jobserverKeyed(["MAKEFLAGS"], { MAKEFLAGS: "-j2 --jobserver-auth=fifo:/tmp/f" })).toBe(true);
    expect(jobserverKeyed(["MAKEFLAGS"], { MAKEFLAGS: "-k" })).toBe(false);
    expect(jobserverKeyed(["CPATH"], { MAKEFLAGS: "-j2 --jobserver-auth=fifo:/tmp/f" })).toBe(false);
  });
});

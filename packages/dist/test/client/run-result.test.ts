import { describe, expect, it } from "vitest";
import type { CompileJob } from "@reprise/core";
import { checkRunResult } from "../../src/client/run-result.js";
import { encodeJobResult, type JobResult } from "../../src/protocol/job-result.js";

/** A builder's answer is checked whole before any of it is written or cached: garbage is a failure, never an object. */

const job: CompileJob = {
  toolchainId: "a".repeat(64),
  argv: ["/usr/bin/gcc", "-c", "a.c"],
  cwd: "/p",
  env: {},
  inputs: [],
  outputs: [
    { role: "object", path: "/p/a.o" },
    { role: "dep", path: "/p/a.d", optional: true },
  ],
  limits: { timeoutMs: 1000, maxOutputBytes: 1000 },
};

const obj = Buffer.from("\x7fELF object bytes");
const good = (): JobResult => ({
  exitCode: 0,
  stdout: Buffer.alloc(0),
  stderr: Buffer.from("warning: x\n"),
  outputs: [{ role: "object", path: "/p/a.o", data: obj }],
  timings: { queuedMs: 0, runMs: 12, totalMs: 12 },
});
const wire = (r: JobResult) => Buffer.concat(encodeJobResult(r).chunks);

/** The encoded result with its JSON header replaced (the length prefix follows). */
function withHeader(bytes: Buffer, edit: (header: Record<string, any>) => void): Buffer {
  const length = bytes.readUInt32BE(0);
  const header = JSON.parse(bytes.toString("utf8", 4, 4 + length));
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(json.length);
  return Buffer.concat([prefix, json, bytes.subarray(4 + length)]);
}

describe("checkRunResult", () => {
  it("accepts a well-formed answer: raw bytes after a JSON header", () => {
    const bytes = wire(good());
    expect(bytes.includes(obj)).toBe(true); // the object travels as itself, not in base64
    const r = checkRunResult(bytes, job);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr.toString()).toBe("warning: x\n");
    expect(r.outputs.get("object")!.equals(obj)).toBe(true);
    expect(r.runMs).toBe(12);
  });

  const flip = (bytes: Buffer, fromEnd: number) => {
    const copy = Buffer.from(bytes);
    copy[copy.length - fromEnd]! ^= 0x20;
    return copy;
  };
  const cases: [string, () => Buffer, RegExp][] = [
    ["nothing", () => Buffer.alloc(0), /too short/],
    ["a JSON answer", () => Buffer.from(JSON.stringify({ exitCode: 0, outputs: [] })), /header/],
    ["a header length past the end", () => wire(good()).subarray(0, 40), /inside its header|claims/],
    ["a truncated result (the object cut short)", () => wire(good()).subarray(0, wire(good()).length - 3), /header describes/],
    ["a result with bytes after its parts", () => Buffer.concat([wire(good()), Buffer.from("x")]), /header describes/],
    ["a garbled object byte", () => flip(wire(good()), 2), /output \/p\/a.o does not match its digest/],
    ["a garbled stderr byte", () => flip(wire(good()), obj.length + 2), /stderr does not match its digest/],
    ["a header that is not JSON", () => Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from("{{{")]), /not JSON/],
    ["an output the job does not write", () => withHeader(wire(good()), (h) => (h.parts[2].path = "/etc/passwd")), /does not write/],
    ["an output twice", () => wire({ ...good(), outputs: [good().outputs[0]!, good().outputs[0]!] }), /twice/],
    ["success without the object", () => wire({ ...good(), outputs: [] }), /wrote no/],
    ["an exit status out of range", () => withHeader(wire(good()), (h) => (h.exitCode = 999)), /exitCode/],
    ["parts out of order", () => withHeader(wire(good()), (h) => ([h.parts[0], h.parts[1]] = [h.parts[1], h.parts[0]])), /not stdout, stderr/],
    ["a size that does not add up", () => withHeader(wire(good()), (h) => (h.parts[2].size += 1)), /header describes/],
  ];
  it.each(cases)("refuses %s", (_name, make, why) => {
    expect(() => checkRunResult(make(), job)).toThrow(why);
  });

  it("a failed compile needs no outputs", () => {
    const r = checkRunResult(wire({ ...good(), exitCode: 1, outputs: [] }), job);
    expect(r.exitCode).toBe(1);
  });
});

import { describe, expect, it } from "vitest";
import { hashBytes, type CompileJob } from "@reprise/core";
import { checkRunResult } from "../../src/client/run-result.js";

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
const good = () => ({
  exitCode: 0,
  stdout: "",
  stderr: Buffer.from("warning: x\n").toString("base64"),
  outputs: [{ role: "object", path: "/p/a.o", digest: hashBytes(obj), size: obj.length, data: obj.toString("base64") }],
  timings: { runMs: 12 },
});

describe("checkRunResult", () => {
  it("accepts a well-formed answer and decodes it", () => {
    const r = checkRunResult(good(), job);
    expect(r.exitCode).toBe(0);
    expect(r.stderr.toString()).toBe("warning: x\n");
    expect(r.outputs.get("object")!.equals(obj)).toBe(true);
    expect(r.runMs).toBe(12);
  });

  const cases: [string, (b: ReturnType<typeof good>) => unknown][] = [
    ["not an object", () => "garbage"],
    ["an output whose bytes do not match its digest", (b) => ({ ...b, outputs: [{ ...b.outputs[0]!, data: Buffer.from("other bytes here").toString("base64") }] })],
    ["an output of the wrong size", (b) => ({ ...b, outputs: [{ ...b.outputs[0]!, size: 3 }] })],
    ["an output the job does not write", (b) => ({ ...b, outputs: [{ ...b.outputs[0]!, path: "/etc/passwd" }] })],
    ["an output twice", (b) => ({ ...b, outputs: [b.outputs[0]!, b.outputs[0]!] })],
    ["success without the object", (b) => ({ ...b, outputs: [] })],
    ["stdout that is not base64", (b) => ({ ...b, stdout: "%%%" })],
    ["an exit status out of range", (b) => ({ ...b, exitCode: 999 })],
  ];
  it.each(cases)("refuses %s", (_name, mutate) => {
    expect(() => checkRunResult(mutate(good()), job)).toThrow(/builder|base64|job result|digest/);
  });

  it("a failed compile needs no outputs", () => {
    const r = checkRunResult({ ...good(), exitCode: 1, outputs: [] }, job);
    expect(r.exitCode).toBe(1);
  });
});

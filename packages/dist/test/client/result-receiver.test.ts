import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { receiveJobResult, type ExpectedOutput } from "../../src/client/result-receiver.js";
import { FarmRequestError } from "../../src/http/client.js";
import { encodeJobResult, type JobResult } from "../../src/protocol/job-result.js";

/**
 * A builder's answer is checked as it arrives: its outputs go to temporary
 * files beside their targets and reach them only when the whole result proved
 * right; garbage is a failure that leaves nothing behind, never an object.
 */

let dir: string;
let expected: ExpectedOutput[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reprise-result-receiver-"));
  expected = [
    { role: "object", path: join(dir, "a.o") },
    { role: "dep", path: join(dir, "a.d"), optional: true },
  ];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const obj = Buffer.from("\x7fELF object bytes ".repeat(50));
const good = (): JobResult => ({
  exitCode: 0,
  stdout: Buffer.alloc(0),
  stderr: Buffer.from("warning: x\n"),
  outputs: [{ role: "object", path: join(dir, "a.o"), data: obj }],
  timings: { queuedMs: 0, runMs: 12, totalMs: 12 },
});
const wire = (r: JobResult) => Buffer.concat(encodeJobResult(r).chunks);

/** The bytes as a network would hand them over: in chunks of `size`. */
async function* inChunks(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

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

describe("receiveJobResult", () => {
  it.each([1, 7, 4096, 1 << 20])("accepts a well-formed answer arriving in chunks of %i bytes, and writes its object only on commit", async (size) => {
    writeFileSync(join(dir, "a.o"), "old object");
    const bytes = wire(good());
    expect(bytes.includes(obj)).toBe(true); // the object travels as itself, not in base64
    const r = await receiveJobResult(inChunks(bytes, size), expected, 1 << 20);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr.toString()).toBe("warning: x\n");
    expect(r.roles).toEqual(["object"]);
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0]!.role).toBe("object");
    expect(r.outputs[0]!.data.equals(obj)).toBe(true); // kept for the store, which then reads nothing back
    expect(r.runMs).toBe(12);
    expect(readFileSync(join(dir, "a.o"), "utf8")).toBe("old object"); // not before commit
    r.commit();
    expect(readFileSync(join(dir, "a.o")).equals(obj)).toBe(true);
    expect(readdirSync(dir)).toEqual(["a.o"]);
  });

  it("gives an executable output its execute bits", async () => {
    const r = await receiveJobResult(inChunks(wire(good()), 64), [{ role: "object", path: join(dir, "a.o"), executable: true }], 1 << 20);
    r.commit();
    expect(statSync(join(dir, "a.o")).mode & 0o111).not.toBe(0);
  });

  it("a failed compile needs no outputs, and discard leaves nothing", async () => {
    const r = await receiveJobResult(inChunks(wire({ ...good(), exitCode: 1 }), 100), expected, 1 << 20);
    expect(r.exitCode).toBe(1);
    r.discard();
    expect(readdirSync(dir)).toEqual([]);
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
    ["a truncated result (the object cut short)", () => wire(good()).subarray(0, wire(good()).length - 3), /cut short/],
    ["a result with bytes after its parts", () => Buffer.concat([wire(good()), Buffer.from("x")]), /bytes after its parts/],
    ["a garbled object byte", () => flip(wire(good()), 2), /output \/.*\/a.o does not match its checksum/],
    ["a garbled stderr byte", () => flip(wire(good()), obj.length + 2), /stderr does not match its checksum/],
    ["a header that is not JSON", () => Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from("{{{")]), /not JSON/],
    ["an output the job does not write", () => withHeader(wire(good()), (h) => (h.parts[2].path = "/etc/passwd")), /does not write/],
    ["an output twice", () => wire({ ...good(), outputs: [good().outputs[0]!, good().outputs[0]!] }), /twice/],
    ["success without the object", () => wire({ ...good(), outputs: [] }), /wrote no/],
    ["an exit status out of range", () => withHeader(wire(good()), (h) => (h.exitCode = 999)), /exitCode/],
    ["parts out of order", () => withHeader(wire(good()), (h) => ([h.parts[0], h.parts[1]] = [h.parts[1], h.parts[0]])), /not stdout, stderr/],
    ["a size that does not add up", () => withHeader(wire(good()), (h) => (h.parts[2].size += 1)), /cut short/],
    ["a size beyond the limit", () => withHeader(wire(good()), (h) => (h.parts[2].size = 1e12)), /at most/],
  ];
  it.each(cases)("refuses %s, leaving the old output and no temporary file", async (_name, make, why) => {
    writeFileSync(join(dir, "a.o"), "old object");
    for (const size of [3, 1 << 20]) {
      const refused = await receiveJobResult(inChunks(make(), size), expected, 1 << 20).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(FarmRequestError);
      expect((refused as FarmRequestError).kind).toBe("garbage");
      expect((refused as Error).message).toMatch(why);
      expect(readdirSync(dir)).toEqual(["a.o"]);
      expect(readFileSync(join(dir, "a.o"), "utf8")).toBe("old object");
    }
  });

  it("removes its temporary file when the answer breaks off mid-object", async () => {
    const bytes = wire(good());
    async function* breaking(): AsyncGenerator<Buffer> {
      yield bytes.subarray(0, bytes.length - 100);
      throw new FarmRequestError("unreachable", "the answer broke off");
    }
    await expect(receiveJobResult(breaking(), expected, 1 << 20)).rejects.toThrow(/broke off/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

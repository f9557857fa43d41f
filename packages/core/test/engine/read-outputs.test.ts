import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readOutputs } from "../../src/engine/read-outputs.js";
import { decodeEntry, encodeEntry, RAW_MIN_BODY } from "../../src/storage/codec.js";
import type { OutputSpec } from "../../src/engine/types.js";

const K = "7".repeat(64);
let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "reprise-read-outputs-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const spec = (name: string, role: string, optional = false): OutputSpec => ({ path: join(dir, name), role, ...(optional ? { optional } : {}) }) as OutputSpec;

describe("readOutputs", () => {
  it("reads a large entry's outputs straight into the blob it is stored as, byte for byte", async () => {
    const rlib = randomBytes(RAW_MIN_BODY + 12345);
    const rmeta = randomBytes(70_000);
    writeFileSync(join(dir, "libx.rlib"), rlib);
    writeFileSync(join(dir, "libx.rmeta"), rmeta);
    writeFileSync(join(dir, "x.d"), "x.d: src/lib.rs\n");
    const stderr = Buffer.from('{"artifact":"libx.rmeta"}\n');
    const read = readOutputs([spec("libx.rlib", "link"), spec("libx.rmeta", "metadata"), spec("x.d", "dep-info")], Buffer.alloc(0), stderr);
    if ("missing" in read) throw new Error("missing");
    expect(read.paths).toEqual([join(dir, "libx.rlib"), join(dir, "libx.rmeta"), join(dir, "x.d")]);
    expect(read.outputs[0]!.data.equals(rlib)).toBe(true);
    expect(read.outputs[1]!.data.equals(rmeta)).toBe(true);
    const entry = { outputs: read.outputs, stdout: Buffer.alloc(0), stderr, exitCode: 0, compileMs: 10, createdAt: 1 };
    const blob = await encodeEntry(entry, K);
    expect(blob.buffer).toBe(read.outputs[0]!.data.buffer);
    const decoded = await decodeEntry(blob, K);
    expect(decoded.outputs.map((o) => o.role)).toEqual(["link", "metadata", "dep-info"]);
    expect(decoded.outputs[0]!.data.equals(rlib)).toBe(true);
    expect(decoded.outputs[2]!.data.toString()).toBe("x.d: src/lib.rs\n");
    expect(decoded.stderr.equals(stderr)).toBe(true);
  });

  it("reads small outputs whole, skips a missing optional one and names a missing required one", () => {
    writeFileSync(join(dir, "a.o"), "object");
    const read = readOutputs([spec("a.o", "object"), spec("a.dwo", "split-dwarf", true)], Buffer.alloc(0), Buffer.alloc(0));
    if ("missing" in read) throw new Error("missing");
    expect(read.outputs).toEqual([{ role: "object", data: Buffer.from("object") }]);
    const missing = readOutputs([spec("a.o", "object"), spec("b.o", "object")], Buffer.alloc(0), Buffer.alloc(0));
    expect("missing" in missing && missing.missing.path).toBe(join(dir, "b.o"));
  });

  it("reads an output that is not a regular file (-o /dev/null) by path, as before", () => {
    const read = readOutputs([{ path: "/dev/null", role: "object" } as OutputSpec], Buffer.alloc(0), Buffer.alloc(RAW_MIN_BODY));
    if ("missing" in read) throw new Error("missing");
    expect(read.outputs).toEqual([{ role: "object", data: Buffer.alloc(0) }]);
    expect(read.paths).toEqual(["/dev/null"]);
  });
});

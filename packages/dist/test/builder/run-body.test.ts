import { describe, expect, it } from "vitest";
import { BadRunBody, decodeRunWithBlobs, encodeRunWithBlobs } from "../../src/protocol/run-body.js";

const request = { toolchainId: "t".repeat(8), job: { argv: ["cc"], inputs: [] } };
const blobs = [
  { digest: "a".repeat(64), data: Buffer.from("int a;\n") },
  { digest: "b".repeat(64), data: Buffer.alloc(0) },
  { digest: "c".repeat(64), data: Buffer.from([0, 1, 2, 255]) },
];

describe("a run request with its blobs (protocol/run-body.ts)", () => {
  it("decodes what it encodes: the request without its blob list, each blob's bytes in order", () => {
    const { request: got, blobs: back } = decodeRunWithBlobs(encodeRunWithBlobs(JSON.stringify(request), blobs));
    expect(got).toEqual(request);
    expect(back.map((b) => [b.digest, b.data.toString("hex")])).toEqual(blobs.map((b) => [b.digest, b.data.toString("hex")]));
  });

  it("refuses a cut or padded body, a header longer than the body, and a malformed blob list", () => {
    const body = encodeRunWithBlobs(JSON.stringify(request), blobs);
    expect(() => decodeRunWithBlobs(body.subarray(0, body.length - 1))).toThrow(BadRunBody);
    expect(() => decodeRunWithBlobs(Buffer.concat([body, Buffer.from([0])]))).toThrow(/describes/);
    const long = Buffer.from(body);
    long.writeUInt32BE(body.length, 0);
    expect(() => decodeRunWithBlobs(long)).toThrow(/inside its header/);
    const badList = Buffer.from(JSON.stringify({ ...request, blobs: [{ digest: "x", size: 1 }] }));
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(badList.length, 0);
    expect(() => decodeRunWithBlobs(Buffer.concat([prefix, badList, Buffer.from("x")]))).toThrow(/blobs: 0.digest/);
    expect(() => decodeRunWithBlobs(Buffer.from([0, 0]))).toThrow(BadRunBody);
  });
});

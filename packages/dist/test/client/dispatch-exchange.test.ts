import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { farmAgent, farmRequest, FarmRequestError, type FarmCall } from "../../src/http/client.js";
import { JobResultReader, type ReceivedResult } from "../../src/client/result-receiver.js";
import { encodeJobResult, JOB_RESULT_CONTENT_TYPE } from "../../src/protocol/job-result.js";

/**
 * A job's run exchange through undici's `dispatch` (farmRequest's `reader`),
 * against a real HTTP server on loopback: a result reaches the reader as it
 * arrives; any other answer comes back parsed; a cut, oversized or mistyped
 * answer is a failure that leaves no temporary file behind.
 */

let server: Server;
let base: string;
let answer: (req: IncomingMessage, res: ServerResponse) => void;
const agent = farmAgent();
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reprise-dispatch-exchange-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const object = Buffer.alloc(300_000, 0x5a);
const encoded = () => encodeJobResult({ exitCode: 0, stdout: Buffer.from("out\n"), stderr: Buffer.alloc(0), outputs: [{ role: "object", path: join(dir, "a.o"), data: object }] });

/** Answers with `chunks`, written one by one (so the client gets them in several reads). */
function serve(status: number, type: string, chunks: Buffer[], length = chunks.reduce((n, c) => n + c.length, 0)) {
  answer = (_req, res) => {
    res.writeHead(status, { "content-type": type, "content-length": length });
    for (const c of chunks) res.write(c);
    res.end();
  };
}

const run = (over: Partial<FarmCall> = {}) =>
  farmRequest({
    method: "POST",
    url: `${base}/v1/jobs/j/run`,
    token: "t",
    json: { job: "x" },
    binary: JOB_RESULT_CONTENT_TYPE,
    reader: () => new JobResultReader([{ role: "object", path: join(dir, "a.o") }], 1 << 20),
    timeoutMs: 10_000,
    dispatcher: agent,
    maxResponseBytes: 1 << 20,
    ...over,
  });

describe("farmRequest with a reader (undici dispatch)", () => {
  it("hands a result to the reader as it arrives; the object appears on commit", async () => {
    const { chunks } = encoded();
    serve(200, JOB_RESULT_CONTENT_TYPE, chunks);
    const r = await run();
    expect(r.status).toBe(200);
    const got = r.received as ReceivedResult;
    expect(got.stdout.toString()).toBe("out\n");
    expect(got.outputs[0]!.data.equals(object)).toBe(true);
    got.commit();
    expect(readFileSync(join(dir, "a.o")).equals(object)).toBe(true);
    expect(readdirSync(dir)).toEqual(["a.o"]);
  });

  it("gives any other answer parsed (a 409 with what the builder lacks)", async () => {
    const body = Buffer.from(JSON.stringify({ error: { code: "missing", message: "m" }, missing: { toolchain: true, blobs: [] } }));
    serve(409, "application/json", [body]);
    const r = await run();
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ missing: { toolchain: true } });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a 200 of another type, one larger than the limit, and a garbled result, leaving nothing", async () => {
    serve(200, "application/json", [Buffer.from("{}")]);
    await expect(run()).rejects.toMatchObject({ kind: "garbage" });
    serve(200, JOB_RESULT_CONTENT_TYPE, encoded().chunks);
    await expect(run({ maxResponseBytes: 1000 })).rejects.toMatchObject({ kind: "garbage", errorCode: "too-large" });
    const whole = Buffer.concat(encoded().chunks);
    whole.writeUInt8(whole.readUInt8(whole.length - 10) ^ 0xff, whole.length - 10);
    serve(200, JOB_RESULT_CONTENT_TYPE, [whole]);
    await expect(run()).rejects.toThrow(/does not match its checksum/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("an answer cut off mid-object is 'unreachable' and leaves no temporary file", async () => {
    const whole = Buffer.concat(encoded().chunks);
    answer = (_req, res) => {
      res.writeHead(200, { "content-type": JOB_RESULT_CONTENT_TYPE, "content-length": whole.length });
      res.write(whole.subarray(0, 100_000), () => res.socket?.destroy());
    };
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FarmRequestError);
    expect((err as FarmRequestError).kind).toBe("unreachable");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a reader that fails, even in its clean-up, fails the exchange at once instead of leaving it open", async () => {
    serve(200, JOB_RESULT_CONTENT_TYPE, encoded().chunks);
    const failing = () => ({
      push() {
        throw new Error("bad push");
      },
      end: () => undefined,
      abort() {
        throw new Error("bad abort");
      },
    });
    await expect(run({ reader: failing, timeoutMs: 60_000 })).rejects.toThrow(/bad push/);
    // A stream-style function where a reader belongs (a caller of the older API) is refused, not awaited forever.
    const notAReader = (async () => Buffer.alloc(0)) as unknown as FarmCall["reader"];
    await expect(run({ reader: notAReader!, timeoutMs: 60_000 })).rejects.toThrow(/gave no ChunkReader/);
  });

  it("an answer that never comes ends at the time limit as 'timeout'", async () => {
    answer = () => undefined; // never answers
    const err = await run({ timeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as FarmRequestError).kind).toBe("timeout");
    expect(readdirSync(dir)).toEqual([]);
  });
});

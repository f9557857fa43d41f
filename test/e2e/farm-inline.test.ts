import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { hashBytes } from "@reprise/core";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { farmLogTail as daemonLog, farmStats as remote } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";
import { writeFarmProject } from "../support/farm-project.js";
import { hostPlatform } from "../../packages/dist/src/platform.js";
import { DIST_PROTOCOL_VERSION } from "../../packages/dist/src/protocol/common.js";
import { BLOBS_CONTENT_TYPE, encodeRunWithBlobs, RUN_WITH_BLOBS_CONTENT_TYPE } from "../../packages/dist/src/protocol/run-body.js";

/**
 * A job's missing blobs travel inside its run request (docs/dist-protocol.md,
 * "A run with its blobs"), every part a real process on loopback: one
 * scheduler, one bwrap builder that takes run bodies of at most 1 MiB, and a
 * client daemon. Round trips are the client's own count (its stats).
 */

const INLINE_LIMIT = 1024 * 1024;

let farm: LoopbackFarm;
let sb: RepriseSandbox;
let dir: string;
const argv = ["-O2", "-Iinclude", "-c", "src/unit0.c", "-o"];

/** Compiles src/unit0.c through the farm and plainly; the object must be byte-identical. Returns the call's stats. */
async function compileBoth() {
  const ref = await plain("gcc", [...argv, "build/plain.o"], dir);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  await sb.zeroStats();
  const r = await sb.run(["gcc", ...argv, "build/unit0.o"], dir, { env: farm.env() });
  expect(r.exitCode, text(r.stderr)).toBe(0);
  expect(readFileSync(join(dir, "build", "unit0.o")).equals(readFileSync(join(dir, "build", "plain.o"))), "byte-identical to the plain compile").toBe(true);
  return sb.stats();
}

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  farm = await LoopbackFarm.start({ builders: [{ id: "b1", extra: { maxInlineBody: INLINE_LIMIT } }], dirName: "farm-inline" });
  sb = farm.sb;
  dir = join(farm.dir, "project");
  writeFarmProject(dir, 1, "inline");
  mkdirSync(join(dir, "build"), { recursive: true });
}, 180_000);

afterAll(async () => {
  await farm?.dispose();
});

/** A job allocated on the builder by hand (its id, builder URL and job token), for requests made without the client. */
async function allocateJob(): Promise<{ jobId: string; builderUrl: string; jobToken: string }> {
  const ok = await request(`${farm.sched.url}/v1/jobs/allocate`, {
    method: "POST",
    headers: { authorization: `Bearer ${farm.sched.clientToken}`, "x-reprise-dist-protocol": String(DIST_PROTOCOL_VERSION), "content-type": "application/json" },
    body: JSON.stringify({ toolchainId: "0".repeat(64), platforms: [{ arch: hostPlatform().arch, os: "linux" }] }),
  });
  expect(ok.statusCode).toBe(200);
  return (await ok.body.json()) as { jobId: string; builderUrl: string; jobToken: string };
}

const source = () => join(dir, "src", "unit0.c");
const builderBlob = (digest: string) => join(farm.dir, "builders", "b1", "data", "blobs", digest.slice(0, 2), digest);

describe("a job's blobs inside its run request (one scheduler, one bwrap builder, a client daemon)", () => {
  it("a cold job sends all its missing inputs in one request after the 409: run, toolchain upload, run with blobs", async () => {
    const s = await compileBoth();
    expect(s.fallbacks, daemonLog(sb)).toEqual({});
    expect(remote(s).compiles).toBe(1);
    // Uploaded one by one, the job's inputs (its source and the project's headers) would be a request each.
    expect(remote(s).roundTrips, JSON.stringify(remote(s))).toBe(3);
    expect(existsSync(builderBlob(hashBytes(readFileSync(source())))), "the source reached the builder's store").toBe(true);
  }, 300_000);

  it("an edited source takes one round trip: the run carries it", async () => {
    const original = readFileSync(source(), "utf8");
    for (let i = 0; i < 3; i++) {
      writeFileSync(source(), `${original}\nint edited_${i}(void) { return ${i}; }\n`);
      const s = await compileBoth();
      expect(s.fallbacks, daemonLog(sb)).toEqual({});
      expect(remote(s)).toEqual({ compiles: 1, roundTrips: 1, bytesUploaded: Buffer.byteLength(readFileSync(source())) });
    }
  }, 300_000);

  it("a blob whose bytes do not match its digest is refused; the build succeeds here, counted", async () => {
    const original = readFileSync(source(), "utf8");
    const edited = `${original}\nint garbled(void) { return 7; }\n`;
    const digest = hashBytes(edited);
    // The client's input store holds other bytes under the edit's digest (a disk fault): the builder must not take them.
    const held = join(sb.cacheDir, "hermetic", "inputs", digest.slice(0, 2), digest);
    mkdirSync(join(held, ".."), { recursive: true });
    writeFileSync(held, edited.replace("return 7", "return 8"));
    writeFileSync(source(), edited);
    const s = await compileBoth();
    expect(s.fallbacks, daemonLog(sb)).toEqual({ "dist-upload-failed": 1 });
    expect(remote(s).compiles).toBe(0);
    expect(existsSync(builderBlob(digest)), "the garbled blob was not kept").toBe(false);
  }, 300_000);

  it("two jobs that need the same new headers at once: the one that finds them carried by the other's run sends them in one request, not a PUT each", async () => {
    const headers = 24;
    mkdirSync(join(dir, "include", "batch"), { recursive: true });
    for (let i = 0; i < headers; i++) writeFileSync(join(dir, "include", "batch", `h${i}.h`), `/* batch header ${i} */\nint batch_h${i}(int);\n`);
    // About a second of -O2 each, so that the first job's run (which carries the headers) is still going when the other's 409 comes.
    const body = Array.from({ length: 1500 }, (_, i) => `  x = x * ${(i % 7) + 3} + (x >> ${(i % 5) + 1}) ^ ${i};`).join("\n");
    const includes = Array.from({ length: headers }, (_, i) => `#include "batch/h${i}.h"`).join("\n");
    for (const name of ["batchA", "batchB"]) writeFileSync(join(dir, "src", `${name}.c`), `${includes}\nint ${name}(int x) {\n${body}\n  return x;\n}\n`);
    const args = (name: string, out: string) => ["-O2", "-Iinclude", "-c", `src/${name}.c`, "-o", `build/${out}`];
    for (const name of ["batchA", "batchB"]) expect((await plain("gcc", args(name, `${name}.plain.o`), dir)).exitCode).toBe(0);
    await sb.zeroStats();
    const runs = await Promise.all(["batchA", "batchB"].map((name) => sb.run(["gcc", ...args(name, `${name}.o`)], dir, { env: farm.env() })));
    for (const r of runs) expect(r.exitCode, text(r.stderr)).toBe(0);
    for (const name of ["batchA", "batchB"]) expect(readFileSync(join(dir, "build", `${name}.o`)).equals(readFileSync(join(dir, "build", `${name}.plain.o`))), `${name}: byte-identical`).toBe(true);
    const s = await sb.stats();
    expect(s.fallbacks, daemonLog(sb)).toEqual({});
    expect(remote(s).compiles).toBe(2);
    // Each job: a run (409: the headers), then its run with them, or the headers in one request and its run. A PUT each: 24 more.
    expect(remote(s).roundTrips, `${JSON.stringify(remote(s))}\n${daemonLog(sb)}`).toBeLessThanOrEqual(8);
    for (let i = 0; i < headers; i++) expect(existsSync(builderBlob(hashBytes(readFileSync(join(dir, "include", "batch", `h${i}.h`)))))).toBe(true);
  }, 300_000);

  it("the builder keeps blobs sent in one request (POST /v1/blobs), each checked against its digest", async () => {
    const a = await allocateJob();
    const post = (type: string, body: Buffer, token = a.jobToken) =>
      request(`${a.builderUrl}/v1/blobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "x-reprise-dist-protocol": String(DIST_PROTOCOL_VERSION), "x-reprise-job-id": a.jobId, "content-type": type },
        body,
      });
    const blobs = ["one blob\n", "another blob\n"].map((t) => Buffer.from(`${t}${process.pid} ${Date.now()}\n`));
    const sent = await post(BLOBS_CONTENT_TYPE, encodeRunWithBlobs("{}", blobs.map((data) => ({ digest: hashBytes(data), data }))));
    expect(sent.statusCode, await sent.body.text()).toBe(200);
    for (const data of blobs) expect(readFileSync(builderBlob(hashBytes(data))).equals(data)).toBe(true);
    // Bytes that are not their digest's: refused, not kept.
    const real = Buffer.from(`the real bytes ${Date.now()}\n`);
    const bad = await post(BLOBS_CONTENT_TYPE, encodeRunWithBlobs("{}", [{ digest: hashBytes(real), data: Buffer.from(`other bytes ${Date.now()}\n`) }]));
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { error: { code: string } }).error.code).toBe("digest-mismatch");
    expect(existsSync(builderBlob(hashBytes(real)))).toBe(false);
    // A run request is no batch of blobs; another type is refused; so is a forged token.
    const withRun = await post(BLOBS_CONTENT_TYPE, encodeRunWithBlobs(JSON.stringify({ toolchainId: "0".repeat(64) }), []));
    expect(withRun.statusCode).toBe(400);
    await withRun.body.dump();
    const odd = await post("application/octet-stream", Buffer.from("x"));
    expect(odd.statusCode).toBe(415);
    await odd.body.dump();
    const forged = await post(BLOBS_CONTENT_TYPE, encodeRunWithBlobs("{}", [{ digest: hashBytes(real), data: real }]), `${a.jobToken}x`);
    expect([401, 403]).toContain(forged.statusCode);
    await forged.body.dump();
    expect(existsSync(builderBlob(hashBytes(real)))).toBe(false);
  }, 60_000);

  it("the builder refuses an inline body over its limit (413, unread) and a run body of a type it does not know (415)", async () => {
    const a = await allocateJob();
    const run = (type: string, body: Buffer) =>
      request(`${a.builderUrl}/v1/jobs/${a.jobId}/run`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.jobToken}`, "x-reprise-dist-protocol": String(DIST_PROTOCOL_VERSION), "content-type": type },
        body,
      });
    const big = await run(RUN_WITH_BLOBS_CONTENT_TYPE, Buffer.alloc(INLINE_LIMIT + 1));
    expect(big.statusCode).toBe(413);
    expect(((await big.body.json()) as { error: { code: string } }).error.code).toBe("too-large");
    const odd = await run("application/x-tar", Buffer.from("not a run"));
    expect(odd.statusCode).toBe(415);
    expect(((await odd.body.json()) as { error: { code: string } }).error.code).toBe("unsupported-body");
    expect(readdirSync(join(farm.dir, "builders", "b1", "data", "incoming"))).toEqual([]);
  }, 60_000);
});

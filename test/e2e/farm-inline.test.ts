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
import { RUN_WITH_BLOBS_CONTENT_TYPE } from "../../packages/dist/src/protocol/run-body.js";

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

  it("the builder refuses an inline body over its limit (413, unread) and a run body of a type it does not know (415)", async () => {
    const ok = await request(`${farm.sched.url}/v1/jobs/allocate`, {
      method: "POST",
      headers: { authorization: `Bearer ${farm.sched.clientToken}`, "x-reprise-dist-protocol": String(DIST_PROTOCOL_VERSION), "content-type": "application/json" },
      body: JSON.stringify({ toolchainId: "0".repeat(64), platforms: [{ arch: hostPlatform().arch, os: "linux" }] }),
    });
    expect(ok.statusCode).toBe(200);
    const a = (await ok.body.json()) as { jobId: string; builderUrl: string; jobToken: string };
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

import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Storage } from "../src/s3-storage.js";
import { S3RVER_CREDENTIALS, startS3 } from "../../../test/support/remote-servers.js";

const KEY = "34".repeat(32);
const BUCKET = "unit-bucket";
let s3: Awaited<ReturnType<typeof startS3>>;
const open: S3Storage[] = [];

function storage(options: Record<string, unknown>): S3Storage {
  const s = new S3Storage({ kind: "s3", dir: "", maxSizeBytes: 0, options: { bucket: BUCKET, endpoint: `127.0.0.1:${s3.port}`, useSsl: "false", ...options }, timeouts: { connectMs: 500, requestMs: 5000 } });
  open.push(s);
  return s;
}

beforeAll(async () => {
  // The SDK's standard credential chain reads these from this process's environment.
  Object.assign(process.env, S3RVER_CREDENTIALS);
  s3 = await startS3(BUCKET);
});

afterAll(async () => {
  for (const s of open) await s.close();
  await s3.stop();
});

describe("S3Storage against s3rver", () => {
  it("puts objects under the key prefix (path-style), gets them back, a missing key is a miss", async () => {
    const s = storage({ keyPrefix: "ci" });
    expect(await s.read("result", KEY)).toBeUndefined();
    const blob = Buffer.from([9, 8, 7, 0, 1]);
    await s.write("result", KEY, blob);
    expect(existsSync(join(s3.dir, BUCKET, "ci/results", `${KEY}._S3rver_object`))).toBe(true);
    expect((await s.read("result", KEY))?.equals(blob)).toBe(true);
    await s.remove("result", KEY);
    expect(await s.read("result", KEY)).toBeUndefined();
  });

  it("clear deletes only the objects under its prefix", async () => {
    const mine = storage({ keyPrefix: "mine/" });
    const theirs = storage({ keyPrefix: "theirs/" });
    await mine.write("result", KEY, Buffer.from("1"));
    await mine.write("manifest", KEY, Buffer.from("2"));
    await theirs.write("result", KEY, Buffer.from("3"));
    await mine.clear();
    expect(await mine.read("result", KEY)).toBeUndefined();
    expect(await mine.read("manifest", KEY)).toBeUndefined();
    expect((await theirs.read("result", KEY))?.toString()).toBe("3");
  });

  it("noCredentials sends unsigned requests (a bucket open to anonymous access)", async () => {
    const s = storage({ keyPrefix: "anon", noCredentials: "true" });
    await s.write("manifest", KEY, Buffer.from("anon"));
    expect((await s.read("manifest", KEY))?.toString()).toBe("anon");
  });
});

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "@reprise/core";
import { WebdavStorage } from "../src/webdav-storage.js";
import { startNginxDav } from "../../../test/support/remote-servers.js";

const KEY = "12".repeat(32);
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups) await c();
});

async function nginx(o: Parameters<typeof startNginxDav>[0] = {}) {
  const s = await startNginxDav(o);
  cleanups.push(() => s.stop());
  return s;
}

function storage(options: Record<string, unknown>): WebdavStorage {
  const s = new WebdavStorage({ kind: "webdav", dir: "", maxSizeBytes: 0, options, timeouts: { connectMs: 500, requestMs: 2000 } });
  cleanups.push(() => s.close());
  return s;
}

describe("WebdavStorage against nginx's dav module", () => {
  it("PUTs blobs under endpoint + prefix, GETs them back, 404 is a miss, DELETE removes", async () => {
    const dav = await nginx();
    const s = storage({ endpoint: dav.endpoint, keyPrefix: "team/a" });
    expect(await s.read("result", KEY)).toBeUndefined();
    const blob = Buffer.from([1, 2, 3, 0, 255]);
    await s.write("result", KEY, blob);
    expect(readFileSync(join(dav.root, "team/a/results", KEY)).equals(blob)).toBe(true);
    expect((await s.read("result", KEY))?.equals(blob)).toBe(true);
    await s.remove("result", KEY);
    expect(existsSync(join(dav.root, "team/a/results", KEY))).toBe(false);
    await s.remove("result", KEY);
  });

  it("creates missing collections with MKCOL when the server will not (409 on PUT)", async () => {
    const dav = await nginx({ createFullPutPath: false });
    const s = storage({ endpoint: dav.endpoint, keyPrefix: "deep/er/" });
    await s.write("manifest", KEY, Buffer.from("m"));
    expect(readFileSync(join(dav.root, "deep/er/manifests", KEY), "utf8")).toBe("m");
  });

  it("sends a bearer token; a wrong one fails with HTTP 401 and a hint", async () => {
    const dav = await nginx({ token: "s3cret" });
    await storage({ endpoint: dav.endpoint, token: "s3cret" }).write("result", KEY, Buffer.from("t"));
    const err = await storage({ endpoint: dav.endpoint, token: "wrong" }).read("result", KEY).catch((e: unknown) => e);
    expect(String(err)).toMatch(/401.*TOKEN/);
  });

  it("clear removes both collections", async () => {
    const dav = await nginx();
    const s = storage({ endpoint: dav.endpoint });
    await s.write("result", KEY, Buffer.from("r"));
    await s.write("manifest", KEY, Buffer.from("m"));
    await s.clear();
    expect(await s.read("result", KEY)).toBeUndefined();
    expect(await s.read("manifest", KEY)).toBeUndefined();
  });

  it("rejects an endpoint that is not an http(s) URL", () => {
    expect(() => storage({ endpoint: "ftp://x/" })).toThrow(ConfigError);
  });
});

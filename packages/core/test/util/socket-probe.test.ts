import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { probeSocket } from "../../src/util/socket-probe.js";

let dir: string;
let server: Server | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reprise-socket-probe-"));
});
afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.destroy());
    s.once("error", reject);
    s.listen(path, () => resolve(s));
  });
}

describe("probeSocket", () => {
  it("is true for a socket something listens on", async () => {
    const path = join(dir, "sock");
    server = await listen(path);
    expect(await probeSocket(path, { timeoutMs: 10_000, whenSilent: false })).toBe(true);
  });

  it("is false for a missing path or a non-socket unless whenFailed says otherwise, which sees the error code", async () => {
    const missing = join(dir, "missing");
    const plain = join(dir, "plain");
    writeFileSync(plain, "");
    expect(await probeSocket(missing, { timeoutMs: 10_000, whenSilent: true })).toBe(false);
    const codes: (string | undefined)[] = [];
    const failed = (err: NodeJS.ErrnoException) => {
      codes.push(err.code);
      return true;
    };
    expect(await probeSocket(missing, { timeoutMs: 10_000, whenSilent: false, whenFailed: failed })).toBe(true);
    expect(await probeSocket(plain, { timeoutMs: 10_000, whenSilent: false, whenFailed: failed })).toBe(true);
    expect(codes[0]).toBe("ENOENT");
    expect(["ECONNREFUSED", "ENOTSOCK"]).toContain(codes[1]);
  });

  it("is false once the holder has closed its socket", async () => {
    const path = join(dir, "sock");
    server = await listen(path);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    expect(await probeSocket(path, { timeoutMs: 10_000, whenSilent: true })).toBe(false);
  });
});

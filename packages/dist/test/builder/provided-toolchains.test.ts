/** Toolchains a builder provides by descriptor: with the real rustup and the user's stable rustc declared, no farm around it. */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompileJob } from "@reprise/core";
import { createRustToolchainProvider } from "@reprise/plugin-rustup/provider";
import { descriptorId, parseDescriptorId } from "@reprise/plugin-rustup";
import { ProvidedToolchains } from "../../src/builder/toolchain-providers.js";

const HOME = process.env.HOME ?? "/root";
const STABLE = join(HOME, ".rustup/toolchains/stable-x86_64-unknown-linux-gnu");
const HOST = "x86_64-unknown-linux-gnu";
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "reprise-provided-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function job(toolchainId: string, argv0 = "/home/client/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc"): CompileJob {
  return { toolchainId, argv: [argv0, "--crate-name", "x", "src/lib.rs"], cwd: "/w", env: { PATH: "/usr/bin" }, inputs: [], outputs: [{ role: "rlib", path: "/w/libx.rlib" }], limits: { timeoutMs: 1000, maxOutputBytes: 1000 } };
}

describe("ProvidedToolchains with a declared rustc", () => {
  it("holds every target of it, lays out rustc, its libraries and the std once (hard links), adds --target and links argv[0]", async () => {
    const data = tmp();
    const provider = createRustToolchainProvider({ toolchains: [{ rustc: join(STABLE, "bin/rustc") }], linkTargets: [HOST] }, data, HOST);
    const provided = new ProvidedToolchains([provider], data, () => {});
    await provided.refresh();
    const id = provided.held().find((h) => parseDescriptorId(h)?.target === HOST)!;
    expect(id).toMatch(/^rustc:\d+\.\d+\.\d+:[0-9a-f]{40}:x86_64-unknown-linux-gnu:[0-9a-f]{64}$/);
    expect(provided.installable()).toEqual([]);
    // The host's cc, by identity (plugin-rustc's inspectLinker).
    expect(provided.capabilities()).toEqual([expect.stringMatching(new RegExp(`^link:${HOST}:[0-9a-f]{32}$`))]);
    const { job: adapted, root } = await provided.adapt(job(id));
    expect(adapted.argv.slice(-2)).toEqual(["--target", HOST]);
    expect(adapted.links).toEqual([{ path: job(id).argv[0], target: join(STABLE, "bin/rustc") }]);
    expect(adapted.env.LD_LIBRARY_PATH).toBe(join(STABLE, "lib"));
    const placed = statSync(join(root, STABLE, "bin/rustc"));
    // A hard link where the data dir and the toolchain share a mount; a copy where they do not (link() gives EXDEV across mounts).
    if (placed.ino !== statSync(join(STABLE, "bin/rustc")).ino) expect(readFileSync(join(root, STABLE, "bin/rustc")).equals(readFileSync(join(STABLE, "bin/rustc")))).toBe(true);
    expect(statSync(join(root, STABLE, "lib/rustlib", HOST, "lib")).isDirectory()).toBe(true);
    // Laid out once: the next job reuses it.
    expect((await provided.adapt(job(id))).root).toBe(root);
  });

  it("an id it neither holds nor can install: 422 toolchain-unavailable, not-offered", async () => {
    const data = tmp();
    const provided = new ProvidedToolchains([createRustToolchainProvider({ toolchains: [{ rustc: join(STABLE, "bin/rustc") }] }, data, HOST)], data, () => {});
    const other = descriptorId({ release: "1.90.0", commitHash: "a".repeat(40), target: HOST, stdDigest: "b".repeat(64) })!;
    await expect(provided.adapt(job(other))).rejects.toMatchObject({ status: 422, code: "toolchain-unavailable", message: expect.stringMatching(/not-offered/) });
  });
});

describe("ProvidedToolchains with rustup behind a server that never answers", () => {
  it("the first job waits for rustup's timeout; the next ones within 30 s fail at once", async () => {
    const sockets = new Set<Socket>();
    const server = createServer(() => {});
    server.on("connection", (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const data = tmp();
      const logs: string[] = [];
      const provider = createRustToolchainProvider({ rustup: { rustup: join(HOME, ".cargo/bin/rustup"), distServer: url, timeoutMs: 2000 } }, data, HOST);
      const provided = new ProvidedToolchains([provider], data, (_l, m) => logs.push(m));
      expect(provided.installable()).toEqual(["rustc:"]);
      const id = descriptorId({ release: "1.93.0", commitHash: "c".repeat(40), target: HOST, stdDigest: "d".repeat(64) })!;
      let t = Date.now();
      await expect(provided.adapt(job(id))).rejects.toMatchObject({ status: 422, message: expect.stringMatching(/did not finish in 2 s/) });
      expect(Date.now() - t).toBeGreaterThanOrEqual(1900);
      t = Date.now();
      await expect(provided.adapt(job(id))).rejects.toMatchObject({ status: 422 });
      expect(Date.now() - t).toBeLessThan(500);
      expect(logs.join("\n")).toMatch(/rustup toolchain install 1\.93\.0 --profile minimal --no-self-update/);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});

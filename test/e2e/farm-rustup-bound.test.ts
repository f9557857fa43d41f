/**
 * A builder's rustup toolchains are bounded (`rust.rustup.maxToolchains`):
 * the real rustup installs releases from the loopback distribution server
 * (scripts/setup-rustup-dist.sh: this machine's 1.95.0 and Debian's 1.96.0)
 * into the builder's own RUSTUP_HOME, and past the bound the least recently
 * used toolchain is uninstalled — never one a running job uses, never one the
 * builder's config declares — and its laid-out sandbox root goes with it.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { CompileJob } from "@reprise/core";
import { parseDescriptorId } from "@reprise/plugin-rustup";
import { createRustToolchainProvider } from "@reprise/plugin-rustup/provider";
import { ProvidedToolchains } from "../../packages/dist/src/builder/toolchain-providers.js";
import { rustupDistTree, startDistServer, type DistServer } from "../support/rustup-dist-server.js";
import { rustcDescriptor, RUSTUP, rustupAsClient } from "../support/rustup-client.js";

const HOME = process.env.HOME ?? "/root";
const HOST = "x86_64-unknown-linux-gnu";
const STABLE = join(HOME, ".rustup/toolchains/stable-x86_64-unknown-linux-gnu");
let tmp: string;
let dist: DistServer;
let id95: string;
let id96: string;

const descriptorFor = async (sysroot: string) => (await rustcDescriptor(sysroot, HOST)).id;

function job(toolchainId: string): CompileJob {
  return { toolchainId, argv: ["/client/bin/rustc", "--crate-name", "x", "src/lib.rs"], cwd: "/w", env: { PATH: "/usr/bin" }, inputs: [], outputs: [], limits: { timeoutMs: 1000, maxOutputBytes: 1000 } };
}

function installed(rustupHome: string): string[] {
  return readdirSync(join(rustupHome, "toolchains")).filter((n) => existsSync(join(rustupHome, "toolchains", n, "bin/rustc"))).sort();
}

/** The ids whose laid-out roots exist under the builder's data directory. */
function laidOut(dataDir: string): string[] {
  const dir = join(dataDir, "provided");
  return readdirSync(dir)
    .filter((n) => n.endsWith(".id") && existsSync(join(dir, n.slice(0, -3))))
    .map((n) => readFileSync(join(dir, n), "utf8"))
    .sort();
}

function builder(name: string, extra: { toolchains?: { rustc: string }[] } = {}) {
  const dataDir = join(tmp, "builder");
  const rustupHome = join(dataDir, "rustup");
  const provider = createRustToolchainProvider({ rustup: { rustup: RUSTUP, rustupHome, distServer: dist.url, timeoutMs: 300_000, maxToolchains: 1 }, linkTargets: [], ...extra }, dataDir, HOST);
  const log: string[] = [];
  const provided = new ProvidedToolchains([provider], dataDir, (_level, msg) => log.push(`${name}: ${msg}`));
  return { provided, dataDir, rustupHome, log };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-rustup-bound-"));
  dist = await startDistServer(rustupDistTree());
  // The client's 1.96.0 (from the same server) names the descriptor a builder must match; 1.95.0 is this machine's stable.
  await rustupAsClient(tmp, dist.url, ["toolchain", "install", "1.96.0", "--profile", "minimal", "--no-self-update"], 300_000);
  id96 = await descriptorFor(join(tmp, "client-rh/toolchains/1.96.0-x86_64-unknown-linux-gnu"));
  id95 = await descriptorFor(STABLE);
  expect(parseDescriptorId(id95)?.release).toBe("1.95.0");
}, 600_000);

afterAll(async () => {
  await dist?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

it(
  "past maxToolchains the least recently used toolchain no job runs with is uninstalled with its sandbox root; one in use stays until its job ends",
  async () => {
    const { provided, dataDir, rustupHome, log } = builder("b");
    await provided.refresh();
    const first = await provided.adapt(job(id95));
    first.release();
    await provided.trim();
    expect(installed(rustupHome)).toEqual([`1.95.0-${HOST}`]);
    expect(laidOut(dataDir)).toEqual([id95]);

    // A second release: the first, unused now, is uninstalled, and its root removed.
    const second = await provided.adapt(job(id96));
    await provided.trim();
    expect(installed(rustupHome), log.join("\n")).toEqual([`1.96.0-${HOST}`]);
    expect(laidOut(dataDir)).toEqual([id96]);
    await provided.refresh();
    expect(provided.held()).toEqual([id96]);

    // 1.95.0 again while a job still runs with 1.96.0: both stay, over the bound, until that job ends.
    const third = await provided.adapt(job(id95));
    await provided.trim();
    expect(installed(rustupHome)).toEqual([`1.95.0-${HOST}`, `1.96.0-${HOST}`]);
    second.release();
    await provided.trim();
    expect(installed(rustupHome), log.join("\n")).toEqual([`1.95.0-${HOST}`]);
    expect(laidOut(dataDir)).toEqual([id95]);
    third.release();
    expect(log.join("\n")).toContain("uninstalled rustc 1.96.0");
  },
  900_000,
);

it(
  "a toolchain the builder's config declares is never uninstalled, even inside its RUSTUP_HOME",
  async () => {
    const rustupHome = join(tmp, "builder", "rustup");
    const declared = join(rustupHome, "toolchains", `1.95.0-${HOST}`, "bin/rustc");
    expect(existsSync(declared)).toBe(true);
    const { provided } = builder("declaring", { toolchains: [{ rustc: declared }] });
    await provided.refresh();
    const j = await provided.adapt(job(id96));
    j.release();
    await provided.trim();
    expect(installed(rustupHome)).toEqual([`1.95.0-${HOST}`, `1.96.0-${HOST}`]);
  },
  900_000,
);

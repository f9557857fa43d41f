/**
 * Rust toolchains by descriptor on the farm, end to end with real processes:
 * a rustup distribution server on loopback (components repackaged from
 * toolchains on this machine, scripts/setup-rustup-dist.sh), the real
 * scheduler, builders with an empty RUSTUP_HOME that install toolchains and
 * targets on demand with the real rustup, and jobs posted with the farm
 * client's own allocate/run code. Outputs are compared byte for byte with the
 * client's local compile. What this proves and what it cannot:
 * docs/rust.md#testing-the-rustup-path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashBytes, InputStore } from "@reprise/core";
import { DirectoryDigests, inspectLinker } from "@reprise/plugin-rustc";
import { descriptorId, linkCapability, RUSTUP_LINUX_HOSTS, stdDigest } from "@reprise/plugin-rustup";
import { farmAgent } from "../../packages/dist/src/http/client.js";
import type { ChunkReader } from "../../packages/dist/src/http/dispatch-exchange.js";
import { SchedulerClient } from "../../packages/dist/src/client/scheduler-client.js";
import { runOnBuilder } from "../../packages/dist/src/client/builder-client.js";
import type { WireJob } from "../../packages/dist/src/builder/job-message.js";
import { decodeJobResult } from "../../packages/dist/src/protocol/job-result.js";
import { startBuilder, startScheduler, type FarmProcess, type SchedulerHandle } from "../support/farm-processes.js";
import { rustupDistTree, startDistServer, type DistServer } from "../support/rustup-dist-server.js";
import { rustcDescriptor as descriptorFor, RUSTUP, rustupAsClient as rustupIn } from "../support/rustup-client.js";

const AARCH64 = "aarch64-unknown-linux-gnu";
const HOST = "x86_64-unknown-linux-gnu";

let tmp: string;
let dist: DistServer;
let scheduler: SchedulerHandle;
let client: SchedulerClient;
const builders: FarmProcess[] = [];
/** The client's own rustup-managed 1.96.0 (installed from the same server), with the aarch64 target. */
let clientSysroot: string;
let crateDir: string;
let inputs: InputStore;

/** `rustup <args>` as the client (its own homes under the file's temporary dir), from the loopback server. */
const rustupAsClient = (args: string[]) => rustupIn(tmp, dist.url, args, 180_000);

/** A job compiling one source file of `dir` (relative `src`) with `argv`, into `dir`/out, whose one output is `output`. */
function oneSourceJob(argv: string[], dir: string, src: string, output: { role: string; path: string }): WireJob {
  const data = readFileSync(join(dir, src));
  return {
    argv,
    cwd: dir,
    env: { PATH: "/usr/bin:/bin" },
    inputs: [{ path: join(dir, src), digest: hashBytes(data), size: data.length, mode: 0o644 }],
    outputs: [{ role: output.role, path: join(dir, output.path) }],
    directories: [join(dir, "out")],
    limits: { timeoutMs: 120_000, maxOutputBytes: 64 * 1024 ** 2 },
  };
}

/** The probe crate's compile as cargo would run it (argv[0] is the client's rustc), for `target` (none: the host). */
function probeJob(rustc: string, target?: string): { job: WireJob; argv: string[] } {
  const argv = [rustc, "--crate-name", "probe", "--edition=2021", "src/lib.rs", "--crate-type", "rlib", "-C", "opt-level=2", "-C", "metadata=5eed", "--out-dir", join(crateDir, "out"), ...(target ? ["--target", target] : [])];
  return { argv, job: oneSourceJob(argv, crateDir, "src/lib.rs", { role: "rlib", path: "out/libprobe.rlib" }) };
}

/** The same compile here, as the client's local build runs it (in `dir`, rustc's libraries in `libDir`): the bytes of `output`. */
function localCompile(argv: string[], libDir: string, dir = crateDir, output = "out/libprobe.rlib"): Buffer {
  rmSync(join(dir, "out"), { recursive: true, force: true });
  mkdirSync(join(dir, "out"));
  execFileSync(argv[0]!, argv.slice(1), { cwd: dir, env: { PATH: "/usr/bin:/bin", LD_LIBRARY_PATH: libDir } });
  return readFileSync(join(dir, output));
}

/** The ELF machines of the objects inside an rlib (an ar archive). */
function elfMachines(archive: Buffer): Set<number> {
  const machines = new Set<number>();
  const magic = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
  for (let i = archive.indexOf(magic); i >= 0; i = archive.indexOf(magic, i + 1)) machines.add(archive.readUInt16LE(i + 18));
  return machines;
}

async function onFarm(toolchainId: string, job: WireJob, requires?: string[]) {
  const alloc = await client.allocate(toolchainId, RUSTUP_LINUX_HOSTS.map((p) => ({ ...p })), 2000, { requires });
  const whole = (): ChunkReader<Buffer> => {
    const chunks: Buffer[] = [];
    return { push: (c) => void chunks.push(c), end: () => Buffer.concat(chunks), abort: () => undefined };
  };
  const ex = await runOnBuilder(alloc, { id: toolchainId }, job, inputs, client.dispatcher, 300_000, AbortSignal.timeout(300_000), whole);
  return { alloc, body: decodeJobResult(ex.result) };
}

async function startRustBuilder(id: string, rust: Record<string, unknown>): Promise<FarmProcess> {
  const b = await startBuilder({ schedulerUrl: scheduler.url, token: scheduler.builderToken, builderId: id, dataDir: join(tmp, id), extra: { rust } });
  builders.push(b);
  return b;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-farm-rustup-"));
  const tree = rustupDistTree();
  dist = await startDistServer(tree);
  await rustupAsClient(["toolchain", "install", "1.96.0", "--profile", "minimal", "--no-self-update"]);
  await rustupAsClient(["target", "add", AARCH64, "--toolchain", "1.96.0"]);
  clientSysroot = join(tmp, "client-rh/toolchains/1.96.0-x86_64-unknown-linux-gnu");
  crateDir = join(tmp, "work/probe");
  mkdirSync(join(crateDir, "src"), { recursive: true });
  writeFileSync(
    join(crateDir, "src/lib.rs"),
    "pub fn checksum(data: &[u8]) -> u64 {\n    data.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))\n}\n\n#[inline(never)]\npub fn table() -> Vec<u32> {\n    (0..64).map(|i| i * i + 7).collect()\n}\n",
  );
  inputs = new InputStore(join(tmp, "client-inputs"));
  const src = join(crateDir, "src/lib.rs");
  await inputs.putFile(src, hashBytes(readFileSync(src)));
  scheduler = await startScheduler();
  client = new SchedulerClient(scheduler.url, scheduler.clientToken, farmAgent());
}, 600_000);

afterAll(async () => {
  for (const b of builders) await b.kill();
  await scheduler?.kill();
  await dist?.close();
  await client?.dispatcher.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("a builder provides Rust toolchains with rustup", () => {
  it("installs 1.96.0 and the aarch64 target into an empty RUSTUP_HOME and compiles an aarch64 rlib byte-identical to the client's", async () => {
    const builder = await startRustBuilder("rustup-1", { rustup: { rustup: RUSTUP, distServer: dist.url, timeoutMs: 120_000 } });
    const { id } = await descriptorFor(clientSysroot, AARCH64);
    const clientRustc = join(clientSysroot, "bin/rustc");
    const { job, argv } = probeJob(clientRustc, AARCH64);
    const before = dist.requests.length;
    const { alloc, body } = await onFarm(id, job);
    expect(alloc.builderId).toBe("rustup-1");
    expect(body.stderr.toString()).toBe("");
    expect(body.exitCode).toBe(0);
    const remote = body.outputs.find((o) => o.role === "rlib")!.data;
    const local = localCompile(argv, join(clientSysroot, "lib"));
    expect(remote.length).toBeGreaterThan(1000);
    expect(remote.equals(local)).toBe(true);
    // Its members are aarch64 objects (ELF e_machine 183): a genuine second target.
    expect(elfMachines(remote)).toEqual(new Set([183]));
    // The builder fetched from our server: the channel manifest, rustc, the host std, then the aarch64 std (target add).
    const asked = dist.requests.slice(before);
    expect(asked).toContain("/dist/channel-rust-1.96.0.toml");
    expect(asked).toContain("/dist/2026-04-16/rust-std-1.96.0-aarch64-unknown-linux-gnu.tar.gz");
    expect(existsSync(join(tmp, "rustup-1/data/rustup/toolchains/1.96.0-x86_64-unknown-linux-gnu/lib/rustlib", AARCH64, "lib"))).toBe(true);
    expect(builder.output()).toMatch(/rustup toolchain install 1\.96\.0 --profile minimal --no-self-update/);
    expect(builder.output()).toMatch(/rustup target add aarch64-unknown-linux-gnu/);

    // Held now: the scheduler learns it at the next heartbeat; the next job installs nothing.
    await expect.poll(async () => JSON.stringify(await client.status()), { timeout: 15_000 }).toContain(id);
    const again = dist.requests.length;
    const second = await onFarm(id, job);
    expect(second.body.outputs[0]!.data.equals(local)).toBe(true);
    expect(dist.requests.length).toBe(again);
  });

  it("the host target without --target: the builder compiles with an explicit one, byte-identical", async () => {
    const { id } = await descriptorFor(clientSysroot, HOST);
    const { job, argv } = probeJob(join(clientSysroot, "bin/rustc"));
    const { body } = await onFarm(id, job);
    expect(body.exitCode).toBe(0);
    expect(body.outputs[0]!.data.equals(localCompile(argv, join(clientSysroot, "lib")))).toBe(true);
  });

  it("the user's own ~/.rustup stable (1.95.0 here): the builder installs that release from the server, byte-identical", async () => {
    const stable = join(process.env.HOME ?? "/root", ".rustup/toolchains/stable-x86_64-unknown-linux-gnu");
    const { id, release } = await descriptorFor(stable, HOST);
    const { job, argv } = probeJob(join(stable, "bin/rustc"));
    const { alloc, body } = await onFarm(id, job);
    expect(alloc.builderId).toBe("rustup-1");
    expect(body.exitCode).toBe(0);
    expect(body.outputs[0]!.data.equals(localCompile(argv, join(stable, "lib")))).toBe(true);
    expect(existsSync(join(tmp, `rustup-1/data/rustup/toolchains/${release}-x86_64-unknown-linux-gnu/bin/rustc`))).toBe(true);
  });

  it("refuses a descriptor whose commit or std digest differs from what it installs (toolchain-unavailable, mismatch)", async () => {
    const { release, commit } = await descriptorFor(clientSysroot, AARCH64);
    const { job } = probeJob(join(clientSysroot, "bin/rustc"), AARCH64);
    const otherCommit = descriptorId({ release, commitHash: "0".repeat(40), target: AARCH64, stdDigest: "a".repeat(64) })!;
    await expect(onFarm(otherCommit, job)).rejects.toMatchObject({ status: 422, code: "toolchain-unavailable", message: expect.stringMatching(/commit .* not the same build/) });
    const otherStd = descriptorId({ release, commitHash: commit, target: AARCH64, stdDigest: "b".repeat(64) })!;
    await expect(onFarm(otherStd, job)).rejects.toMatchObject({ status: 422, message: expect.stringMatching(/standard library .* not the same std/) });
  });

  it("a target the server does not offer is refused with rustup's reason", async () => {
    const { release, commit } = await descriptorFor(clientSysroot, AARCH64);
    const riscv = descriptorId({ release, commitHash: commit, target: "riscv64gc-unknown-linux-gnu", stdDigest: "c".repeat(64) })!;
    const { job } = probeJob(join(clientSysroot, "bin/rustc"), "riscv64gc-unknown-linux-gnu");
    await expect(onFarm(riscv, job)).rejects.toMatchObject({ status: 422, code: "toolchain-unavailable", message: expect.stringMatching(/not-offered|does not offer/) });
  });
});

describe("when the distribution server fails", () => {
  it("a server that refuses connections: a clear error naming it, within seconds", async () => {
    const down = await startDistServer(tmp);
    const url = down.url;
    await down.close();
    await startRustBuilder("rustup-down", { rustup: { rustup: RUSTUP, distServer: url, timeoutMs: 60_000 } });
    // A release no builder holds: the new builder (never allocated to yet) gets it among the installers.
    const id = descriptorId({ release: "1.91.0", commitHash: "d".repeat(40), target: HOST, stdDigest: "d".repeat(64) })!;
    const { job } = probeJob(join(clientSysroot, "bin/rustc"));
    const started = Date.now();
    const err = await onFarm(id, job).then(
      () => undefined,
      (e: unknown) => e as { status?: number; code?: string; message: string },
    );
    expect(err).toMatchObject({ status: 422, code: "toolchain-unavailable" });
    expect(err!.message).toMatch(/unreachable/);
    expect(err!.message).toContain(url);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("a server that never answers: rustup is ended by the builder's timeout", async () => {
    const silent = await startDistServer(tmp);
    silent.silent();
    await startRustBuilder("rustup-silent", { rustup: { rustup: RUSTUP, distServer: silent.url, timeoutMs: 3000 } });
    const id = descriptorId({ release: "1.94.0", commitHash: "e".repeat(40), target: HOST, stdDigest: "e".repeat(64) })!;
    const { job } = probeJob(join(clientSysroot, "bin/rustc"));
    const started = Date.now();
    // Two attempts may land on the two failing builders: each answers within its timeout.
    await expect(onFarm(id, job)).rejects.toMatchObject({ status: 422, message: expect.stringMatching(/did not finish in 3 s|unreachable/) });
    expect(Date.now() - started).toBeLessThan(60_000);
    await silent.close();
  });
});

describe("the scheduler places descriptor jobs", () => {
  it("answers no-builder at once when no builder can link for the target the crate needs", async () => {
    const { id } = await descriptorFor(clientSysroot, AARCH64);
    const started = Date.now();
    // Were it queued as all-busy, it would wait the 10 s asked for.
    await expect(client.allocate(id, RUSTUP_LINUX_HOSTS.map((p) => ({ ...p })), 10_000, { requires: [linkCapability("aarch64-unknown-linux-gnu", "0".repeat(32))] })).rejects.toMatchObject({ status: 503, code: "no-builder" });
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it("reports what each builder holds, can install and can link for", async () => {
    const status = (await client.status()) as { pools: { builders: { builderId: string; installable?: string[]; capabilities?: string[] }[] }[] };
    const b = status.pools.flatMap((p) => p.builders).find((x) => x.builderId === "rustup-1")!;
    expect(b.installable).toEqual(["rustc:"]);
    expect(b.capabilities?.some((c) => c.startsWith(`link:${HOST}:`))).toBe(true);
  });
});

describe("a builder provides toolchains its config declares", () => {
  it("a distribution's rustc (Debian's 1.96, unpacked) with its aarch64 std: held from the start, preferred, byte-identical", async () => {
    const root = join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "reprise-fixtures/rustc-web-1.96-root");
    const rustc = join(root, "usr/bin/rustc");
    const libs = join(root, "usr/lib/x86_64-linux-gnu");
    expect(existsSync(rustc), `${rustc} (unpacked by scripts/setup-rustup-dist.sh)`).toBe(true);
    await startRustBuilder("declared", { toolchains: [{ rustc, libraryPath: [libs] }] });
    const vv = execFileSync(rustc, ["-vV"], { encoding: "utf8", env: { ...process.env, LD_LIBRARY_PATH: libs } });
    const digest = (await stdDigest(new DirectoryDigests(), join(root, "usr"), AARCH64))!;
    const id = descriptorId({ release: /^release: (.*)$/m.exec(vv)![1]!, commitHash: /^commit-hash: (.*)$/m.exec(vv)![1]!, target: AARCH64, stdDigest: digest })!;
    // The same release, commit and std bytes as the rustup-served 1.96.0 (repackaged from these files): the same descriptor,
    // whoever installed it. The rustup builder holds it too: without it, the declared holder is preferred over installers.
    expect(id).toBe((await descriptorFor(clientSysroot, AARCH64)).id);
    await builders.find((b) => b.output().includes("rustup-1"))!.kill();
    await expect.poll(async () => JSON.stringify(await client.status()), { timeout: 15_000 }).not.toContain('"rustup-1"');
    expect(JSON.stringify(await client.status())).toContain(id);
    const { job, argv } = probeJob(rustc, AARCH64);
    const { alloc, body } = await onFarm(id, job);
    expect(alloc.builderId).toBe("declared");
    expect(body.exitCode).toBe(0);
    const local = localCompile([rustc, ...argv.slice(1)], libs);
    const remote = body.outputs[0]!.data;
    expect(remote.equals(local)).toBe(true);
    expect(elfMachines(remote)).toEqual(new Set([183]));
  });
});

describe("a program linked for aarch64 with Debian's cross gcc", () => {
  /** A program whose link reads the aarch64 crt objects, libc and libgcc of Debian's cross toolchain. */
  async function helloJob(rustc: string, linker: string): Promise<{ job: WireJob; argv: string[] }> {
    const dir = join(tmp, "work/hello");
    mkdirSync(join(dir, "src"), { recursive: true });
    mkdirSync(join(dir, "out"), { recursive: true });
    const src = join(dir, "src/main.rs");
    writeFileSync(src, 'fn main() {\n    let v: Vec<u64> = (1..=10).map(|i| i * i).collect();\n    println!("sum {}", v.iter().sum::<u64>());\n}\n');
    await inputs.putFile(src, hashBytes(readFileSync(src)));
    const argv = [rustc, "--crate-name", "hello", "--edition=2021", "src/main.rs", "--crate-type", "bin", "-C", "metadata=c4055", "-C", `linker=${linker}`, "--target", AARCH64, "--out-dir", join(dir, "out")];
    return { argv, job: oneSourceJob(argv, dir, "src/main.rs", { role: "bin", path: "out/hello" }) };
  }

  it("links on a builder reporting the same aarch64-linux-gnu-gcc identity, byte-identical to the client's own link; another linker's identity finds no builder", async () => {
    await startRustBuilder("cross-linker", { rustup: { rustup: RUSTUP, distServer: dist.url, timeoutMs: 120_000 }, linkTargets: [{ target: AARCH64, linker: "aarch64-linux-gnu-gcc" }] });
    const cross = await inspectLinker("aarch64-linux-gnu-gcc", { cwd: "/", pathEnv: "/usr/bin:/bin" });
    expect(cross.files.some((f) => f.startsWith("/usr/aarch64-linux-gnu/lib/") && f.endsWith("crt1.o"))).toBe(true);
    await expect.poll(async () => JSON.stringify(await client.status()), { timeout: 30_000 }).toContain(linkCapability(AARCH64, cross.identity));
    const { id } = await descriptorFor(clientSysroot, AARCH64);
    const { job, argv } = await helloJob(join(clientSysroot, "bin/rustc"), "aarch64-linux-gnu-gcc");
    const { alloc, body } = await onFarm(id, job, [linkCapability(AARCH64, cross.identity)]);
    expect(alloc.builderId).toBe("cross-linker");
    expect(body.stderr.toString()).toBe("");
    expect(body.exitCode).toBe(0);
    const remote = body.outputs.find((o) => o.role === "bin")!.data;
    const local = localCompile(argv, join(clientSysroot, "lib"), job.cwd, "out/hello");
    // An aarch64 executable (e_machine 183), the same bytes as the client's link.
    expect(remote.readUInt16LE(18)).toBe(183);
    expect(remote.equals(local)).toBe(true);

    // A client linking with another driver (clang) has another identity: no builder reports it, so the job stays with the client.
    const clang = await inspectLinker("clang", { cwd: "/", pathEnv: "/usr/bin:/bin" });
    expect(clang.identity).not.toBe(cross.identity);
    await expect(client.allocate(id, RUSTUP_LINUX_HOSTS.map((p) => ({ ...p })), 10_000, { requires: [linkCapability(AARCH64, clang.identity)] })).rejects.toMatchObject({ status: 503, code: "no-builder" });
  });
});

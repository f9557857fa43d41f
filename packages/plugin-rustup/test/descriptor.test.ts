/** Descriptors from the real rustup toolchain on this machine (~/.rustup stable), through the plugin's hooks. */
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, type CompileInvocation, type CompilerInfo } from "@reprise/core";
import { detectRustc, DirectoryDigests, inspectLinker, parseRustcArguments } from "@reprise/plugin-rustc";
import { createRustupPlugin, descriptorId, parseDescriptorId, RUSTUP_LINUX_HOSTS } from "../src/index.js";
import { realProbe, parseInput, expectCacheable, tempDir, removeTempDirs } from "../../plugin-rustc/test/helpers.js";

const STABLE_RUSTC = join(process.env.HOME ?? "/root", ".rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc");
const HOST = "x86_64-unknown-linux-gnu";

afterAll(removeTempDirs);

async function realCompiler(path = STABLE_RUSTC): Promise<CompilerInfo> {
  const detected = await detectRustc(realProbe(path));
  if (!detected) throw new Error(`${path} is not detected as rustc (the tests need rustup's stable toolchain)`);
  return { ...detected, identity: "test" };
}

function invocationOf(compiler: CompilerInfo, args: string[]): CompileInvocation {
  return expectCacheable(parseRustcArguments(parseInput([compiler.path, ...args], { compiler, cwd: "/work/ws" })));
}

function engine(options = {}) {
  return new Engine().use(createRustupPlugin(options));
}

describe("descriptor ids", () => {
  it("round-trip, and refuse fields an id cannot spell", () => {
    const d = { release: "1.95.0", commitHash: "59807616e1fa2540724bfbac14d7976d7e4a3860", target: HOST, stdDigest: "f".repeat(64) };
    const id = descriptorId(d)!;
    expect(id).toBe(`rustc:1.95.0:59807616e1fa2540724bfbac14d7976d7e4a3860:${HOST}:${"f".repeat(64)}`);
    expect(parseDescriptorId(id)).toEqual(d);
    expect(descriptorId({ ...d, target: "/path/to/custom.json" })).toBeUndefined();
    expect(parseDescriptorId("f".repeat(64))).toBeUndefined();
    expect(parseDescriptorId("rustc:1.95.0:x")).toBeUndefined();
    // A builder passes release and target to rustup: nothing that reads as an option.
    expect(parseDescriptorId(`rustc:--help:${"a".repeat(40)}:${HOST}:${"f".repeat(64)}`)).toBeUndefined();
    expect(parseDescriptorId(`rustc:1.95.0:${"a".repeat(40)}:-v:${"f".repeat(64)}`)).toBeUndefined();
  });
});

describe("describeToolchain for a rustup-managed rustc", () => {
  it("names release, commit, target and the digest of that target's std", async () => {
    const compiler = await realCompiler();
    const inv = invocationOf(compiler, ["--crate-name", "probe", "--edition=2021", "src/lib.rs", "--crate-type", "lib", "--out-dir", "/work/ws/out"]);
    const d = await engine().hooks.describeToolchain.promise({ compiler, invocation: inv });
    const data = compiler.data as { sysroot: string; release: string; commitHash: string };
    const std = await new DirectoryDigests().digest(join(data.sysroot, "lib/rustlib", HOST, "lib"));
    expect(d).toEqual({ id: descriptorId({ release: data.release, commitHash: data.commitHash, target: HOST, stdDigest: std }), family: "rustc", summary: `rustc ${data.release} (${data.commitHash.slice(0, 9)}) for ${HOST}` });
  });

  it("a crate that links requires a linker for its target, with the identity of the client's linker", async () => {
    const compiler = await realCompiler();
    const inv = invocationOf(compiler, ["--crate-name", "app", "--edition=2021", "src/main.rs", "--crate-type", "bin", "--out-dir", "/work/ws/out"]);
    const d = await engine().hooks.describeToolchain.promise({ compiler, invocation: inv });
    const cc = await inspectLinker("cc", { cwd: "/", pathEnv: process.env.PATH });
    expect(d?.requires).toEqual([`link:${HOST}:${cc.identity}`]);
  });

  it.each([
    ["a proc macro", ["--crate-name", "derive_it", "src/lib.rs", "--crate-type", "proc-macro"]],
    ["a build script", ["--crate-name", "build_script_build", "build.rs", "--crate-type", "bin"]],
  ])("%s runs on the client's host: only builders of its platform may build it", async (_what, args) => {
    const compiler = await realCompiler();
    const e = engine();
    const inv = invocationOf(compiler, ["--edition=2021", ...args, "--out-dir", "/work/ws/out"]);
    const d = await e.hooks.describeToolchain.promise({ compiler, invocation: inv });
    expect(d?.requires?.[0]).toMatch(new RegExp(`^link:${HOST}:[0-9a-f]{32}$`));
    expect(await e.hooks.resolveArchitecture.promise({ descriptor: d! })).toEqual([{ arch: "x86_64", os: "linux" }]);
  });

  it("a linker rustc is told to use that is a script gets no descriptor (the crate links here)", async () => {
    const compiler = await realCompiler();
    const inv = invocationOf(compiler, ["--crate-name", "app", "src/main.rs", "--crate-type", "bin", "-C", "linker=/bin/gzexe", "--out-dir", "/work/ws/out"]);
    expect(await engine().hooks.describeToolchain.promise({ compiler, invocation: inv })).toBeUndefined();
  });

  it("a target whose std is not installed has no descriptor (it compiles here, where it fails as it would)", async () => {
    const compiler = await realCompiler();
    const inv = invocationOf(compiler, ["--crate-name", "probe", "src/lib.rs", "--crate-type", "lib", "--target", "aarch64-unknown-linux-gnu", "--out-dir", "/work/ws/out"]);
    expect(await engine().hooks.describeToolchain.promise({ compiler, invocation: inv })).toBeUndefined();
  });

  it("resolveArchitecture: any host rustup ships rustc for, only for its own descriptors", async () => {
    const e = engine();
    const runsOn = await e.hooks.resolveArchitecture.promise({ descriptor: { id: `rustc:1.95.0:${"a".repeat(40)}:${HOST}:${"b".repeat(64)}`, family: "rustc", summary: "" } });
    expect(runsOn).toEqual(RUSTUP_LINUX_HOSTS.map((p) => ({ ...p })));
    expect(await e.hooks.resolveArchitecture.promise({ descriptor: { id: "other:x", family: "x", summary: "" } })).toBeUndefined();
  });
});

describe("proc macros run inside rustc", () => {
  it("a crate that loads one goes only to hosts of the client's platform", async () => {
    const compiler = await realCompiler();
    const e = engine();
    const plain = invocationOf(compiler, ["--crate-name", "probe", "src/lib.rs", "--crate-type", "lib", "--out-dir", "/work/ws/out", "--extern", "serde=/work/ws/target/deps/libserde-1.rmeta"]);
    const d1 = (await e.hooks.describeToolchain.promise({ compiler, invocation: plain }))!;
    expect(await e.hooks.resolveArchitecture.promise({ descriptor: d1 })).toHaveLength(RUSTUP_LINUX_HOSTS.length);
    const macros = invocationOf(compiler, ["--crate-name", "probe", "src/lib.rs", "--crate-type", "lib", "--out-dir", "/work/ws/out", "--extern", "derive_it=/work/ws/target/deps/libderive_it-2.so"]);
    const d2 = (await e.hooks.describeToolchain.promise({ compiler, invocation: macros }))!;
    expect(d2.id).toBe(d1.id);
    expect(await e.hooks.resolveArchitecture.promise({ descriptor: d2 })).toEqual([{ arch: "x86_64", os: "linux" }]);
  });
});

describe("a rustc rustup did not install", () => {
  it("is described only when the plugin is told to (anyRustc)", async () => {
    const compiler = await realCompiler();
    // The same rustc seen through a sysroot without rustup's bookkeeping (as Debian's /usr/lib/rustlib).
    const sysroot = tempDir("reprise-rustup-sysroot-");
    mkdirSync(join(sysroot, "lib/rustlib", HOST, "lib"), { recursive: true });
    writeFileSync(join(sysroot, "lib/rustlib", HOST, "lib/libstd-0.rlib"), "std");
    const plainRustc: CompilerInfo = { ...compiler, data: { ...compiler.data, sysroot } };
    const inv = invocationOf(plainRustc, ["--crate-name", "probe", "src/lib.rs", "--crate-type", "lib", "--out-dir", "/work/ws/out"]);
    expect(await engine().hooks.describeToolchain.promise({ compiler: plainRustc, invocation: inv })).toBeUndefined();
    const d = await engine({ anyRustc: true }).hooks.describeToolchain.promise({ compiler: plainRustc, invocation: inv });
    expect(parseDescriptorId(d!.id)?.stdDigest).toBe(await new DirectoryDigests().digest(join(sysroot, "lib/rustlib", HOST, "lib")));
  });
});

describe("Debian's rustc 1.63 (commit-hash: unknown)", () => {
  it("is described only with anyRustc, by release and std digest", async () => {
    const compiler = await realCompiler("/usr/bin/rustc");
    const inv = invocationOf(compiler, ["--crate-name", "probe", "src/lib.rs", "--crate-type", "lib", "--out-dir", "/work/ws/out"]);
    expect(await engine().hooks.describeToolchain.promise({ compiler, invocation: inv })).toBeUndefined();
    const d = await engine({ anyRustc: true }).hooks.describeToolchain.promise({ compiler, invocation: inv });
    expect(parseDescriptorId(d!.id)).toEqual({ release: "1.63.0", commitHash: "unknown", target: HOST, stdDigest: await new DirectoryDigests().digest(`/usr/lib/rustlib/${HOST}/lib`) });
  });

  it("gets its options from config: the default export is the factory the loader calls with them", async () => {
    const mod = await import("../src/index.js");
    expect(typeof mod.default).toBe("function");
    const compiler = await realCompiler("/usr/bin/rustc");
    const inv = invocationOf(compiler, ["--crate-name", "probe", "src/lib.rs", "--crate-type", "lib", "--out-dir", "/work/ws/out"]);
    const configured = new Engine().use(mod.default({ anyRustc: true }));
    expect(await configured.hooks.describeToolchain.promise({ compiler, invocation: inv })).toBeDefined();
  });
});

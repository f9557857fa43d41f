import { lstatSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, KeyHasher } from "@reprise/core";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { createRustcPlugin, DaemonJobserver, rustcCallOf } from "../src/index.js";
import { fileStamp } from "../src/detect.js";
import { expectCacheable, fakeRustc, HOST, parseInput, reasonOf, removeTempDirs, RUSTC, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

const engine = new Engine().use(createRustcPlugin({ jobserverTokens: false }));
const REAL_RUSTC = `${process.env.HOME ?? "/root"}/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc`;
const WS = "/work/ws";
const DEPS = `${WS}/target/debug/deps`;

function parse(args: string[], opts: Parameters<typeof parseInput>[1] = {}) {
  return engine.hooks.parseArguments.for("rustc").call(parseInput([RUSTC, ...args], { cwd: WS, ...opts }));
}

/** A library as cargo 1.95 compiles it (taken from a real `cargo build -v`). */
const CARGO_LIB = [
  "--crate-name", "model", "--edition=2021", "crates/model/src/lib.rs",
  "--error-format=json", "--json=diagnostic-rendered-ansi,artifacts,future-incompat",
  "--crate-type", "lib", "--emit=dep-info,metadata,link",
  "-C", "embed-bitcode=no", "-C", "debuginfo=line-tables-only",
  "--check-cfg", "cfg(docsrs,test)", "--check-cfg", "cfg(feature, values())",
  "-C", "metadata=0c18dc216e34857f", "-C", "extra-filename=-67b043e165ab7edc",
  "--out-dir", DEPS, "-L", `dependency=${DEPS}`,
  "--extern", `serde=${DEPS}/libserde-8e34b1d9d8191976.rmeta`,
  "--extern", `derive_describe=${DEPS}/libderive_describe-eb0e56786f9c76a7.so`,
  "-L", `native=${WS}/target/debug/build/model-9166d8292a0b93e8/out`, "-l", "static=modelc",
  "--cfg", "model_generated",
];

const CARGO_ENV = {
  PATH: "/usr/bin:/bin",
  CARGO_PKG_NAME: "model",
  CARGO_MANIFEST_DIR: `${WS}/crates/model`,
  CARGO_PRIMARY_PACKAGE: "1",
  CARGO_MAKEFLAGS: "-j --jobserver-fds=6,7 --jobserver-auth=6,7",
  OUT_DIR: `${WS}/target/debug/build/model-9166d8292a0b93e8/out`,
  HOME: "/home/u",
  CARGO_HOME: "/home/u/.cargo",
  CARGO_INCREMENTAL: "0",
  CARGO_TERM_COLOR: "never",
  CARGO_TARGET_TMPDIR: `${WS}/target/tmp`,
};

describe("cargo's command lines", () => {
  it("a library: rlib, rmeta and dep-info under cargo's names, externs hashed by content", () => {
    const env = { ...CARGO_ENV };
    const inv = expectCacheable(parse(CARGO_LIB, { env }));
    expect(inv.language).toBe("rust");
    expect(inv.sourceFile).toBe(`${WS}/crates/model/src/lib.rs`);
    expect(inv.outputs).toEqual([
      { role: "rlib", path: `${DEPS}/libmodel-67b043e165ab7edc.rlib` },
      { role: "rmeta", path: `${DEPS}/libmodel-67b043e165ab7edc.rmeta` },
      { role: "dep-info", path: `${DEPS}/model-67b043e165ab7edc.d` },
    ]);
    expect(inv.compileArgv).toEqual([RUSTC, ...CARGO_LIB]);
    expect(inv.preprocessArgv).toBeUndefined();
    expect(inv.dependencies).toEqual({ depFile: `${DEPS}/model-67b043e165ab7edc.d` });
    expect(inv.extraInputFiles).toEqual([`${DEPS}/libderive_describe-eb0e56786f9c76a7.so`, `${DEPS}/libserde-8e34b1d9d8191976.rmeta`]);
    // Paths are written relative to the cwd (or to the out dir); the out dir itself stays absolute.
    expect(inv.keyArgs).toContain(`serde=target/debug/deps/libserde-8e34b1d9d8191976.rmeta`);
    expect(inv.keyArgs).toContain("dependency=target/debug/deps");
    expect(inv.keyArgs).toContain("native=target/debug/build/model-9166d8292a0b93e8/out");
    expect(inv.keyArgs.slice(inv.keyArgs.indexOf("--out-dir"), inv.keyArgs.indexOf("--out-dir") + 2)).toEqual(["--out-dir", DEPS]);
    expect(inv.keyArgs).toContain("crates/model/src/lib.rs");
    // What cargo sets for the crate, not cargo's own configuration nor its jobserver.
    expect(inv.keyEnv).toEqual(["CARGO", "CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "RUSTC_BOOTSTRAP", "RUST_TARGET_PATH"]);
    expect(inv.dependsOnCwd).toBe(true);
    expect(inv.colorDiagnostics).toBe(false);
    // The compile the daemon runs must not try cargo's jobserver pipe, which only cargo's children hold;
    // the caller's environment itself is left alone.
    expect(env).toEqual(CARGO_ENV);
    expect(inv.compileEnv).toBeDefined();
    expect(inv.compileEnv).not.toHaveProperty("CARGO_MAKEFLAGS");
    expect({ ...inv.compileEnv, CARGO_MAKEFLAGS: CARGO_ENV.CARGO_MAKEFLAGS }).toEqual(CARGO_ENV);
    expect(rustcCallOf(inv)).toMatchObject({ target: HOST, links: false, crateName: "model" });
  });

  it("spellings of one option key alike", () => {
    const a = expectCacheable(parse(["--crate-name", "x", "--crate-type=lib", "-C", "opt-level=2", "-Awarnings", "x.rs"]));
    const b = expectCacheable(parse(["--crate-name=x", "--crate-type", "lib", "-Copt-level=2", "--allow", "warnings", "x.rs"]));
    expect(a.keyArgs).toEqual(b.keyArgs);
  });

  it("a proc macro: a shared object for the host, executable, with the linker in the key", () => {
    const args = ["--crate-name", "serde_derive", "--edition=2015", "/reg/serde_derive-1.0.152/src/lib.rs", "--crate-type", "proc-macro", "--emit=dep-info,link", "-C", "prefer-dynamic", "-C", "extra-filename=-16865a92d8df4b7d", "--out-dir", DEPS, "--extern", "proc_macro", "--cap-lints", "allow"];
    const inv = expectCacheable(parse(args, { cwd: "/reg/serde_derive-1.0.152" }));
    expect(inv.outputs).toEqual([
      { role: "proc-macro", path: `${DEPS}/libserde_derive-16865a92d8df4b7d.so`, executable: true },
      { role: "dep-info", path: `${DEPS}/serde_derive-16865a92d8df4b7d.d` },
    ]);
    expect(inv.keyArgs).toContain("src/lib.rs");
    expect(inv.keyArgs).toContain("--out-dir");
    expect(inv.keyArgs).toContain(DEPS);
    expect(inv.extraInputFiles.some((f) => /gcc|cc/.test(f))).toBe(true);
    expect(rustcCallOf(inv)).toMatchObject({ target: HOST, links: true });
  });

  it("a build script: a program named with its extra-filename", () => {
    const out = `${WS}/target/debug/build/model-997cde6e7247522d`;
    const inv = expectCacheable(parse(["--crate-name", "build_script_build", "--edition=2021", "crates/model/build.rs", "--crate-type", "bin", "--emit=dep-info,link", "-C", "extra-filename=-997cde6e7247522d", "--out-dir", out]));
    expect(inv.outputs).toEqual([
      { role: "bin", path: `${out}/build_script_build-997cde6e7247522d`, executable: true },
      { role: "dep-info", path: `${out}/build_script_build-997cde6e7247522d.d` },
    ]);
  });

  it("cargo test: --test builds a harness program", () => {
    const inv = expectCacheable(parse(["--crate-name", "ids", "crates/ids/src/lib.rs", "--emit=dep-info,link", "--test", "-C", "extra-filename=-813323da9277f200", "--out-dir", DEPS]));
    expect(inv.outputs.map((o) => o.path)).toEqual([`${DEPS}/ids-813323da9277f200`, `${DEPS}/ids-813323da9277f200.d`]);
  });

  it("cargo check: metadata only", () => {
    const inv = expectCacheable(parse(["--crate-name", "ids", "crates/ids/src/lib.rs", "--crate-type", "lib", "--emit=dep-info,metadata", "-C", "extra-filename=-1", "--out-dir", DEPS]));
    expect(inv.outputs.map((o) => o.role)).toEqual(["rmeta", "dep-info"]);
    const bin = expectCacheable(parse(["--crate-name", "cli", "src/main.rs", "--crate-type", "bin", "--emit=dep-info,metadata", "-C", "extra-filename=-2", "--out-dir", DEPS]));
    expect(bin.outputs.map((o) => o.path)).toEqual([`${DEPS}/libcli-2.rmeta`, `${DEPS}/cli-2.d`]);
    expect(rustcCallOf(bin)?.links).toBe(false);
  });

  it("a static library and an rlib from one call", () => {
    const inv = expectCacheable(parse(["--crate-name", "ffi", "src/lib.rs", "--crate-type", "staticlib", "--crate-type", "rlib", "--emit=dep-info,link", "-C", "extra-filename=-6a", "--out-dir", DEPS]));
    expect(inv.outputs.map((o) => o.path)).toEqual([`${DEPS}/libffi-6a.a`, `${DEPS}/libffi-6a.rlib`, `${DEPS}/ffi-6a.d`]);
  });

  it("a build-script probe (thiserror, anyhow): lib, metadata, no dep-info asked for", () => {
    const out = `${WS}/target/debug/build/anyhow-e9/out`;
    const inv = expectCacheable(parse(["--edition=2018", "--crate-name=anyhow_build", "--crate-type=lib", "--emit=metadata", "--out-dir", out, `${out}/probe.rs`, "--target", HOST], { tempPath: (s) => `/tmp/x/dep${s}` }));
    expect(inv.outputs).toEqual([{ role: "rmeta", path: `${out}/libanyhow_build.rmeta` }]);
    // The compile is left as it is (dep-info would change the metadata it writes); a dep-info-only run lists the files.
    expect(inv.compileArgv).toEqual([RUSTC, "--edition=2018", "--crate-name=anyhow_build", "--crate-type=lib", "--emit=metadata", "--out-dir", out, `${out}/probe.rs`, "--target", HOST]);
    expect(inv.dependencies).toEqual({
      scanArgv: [RUSTC, "--edition=2018", "--crate-name=anyhow_build", "--crate-type=lib", "--out-dir", out, `${out}/probe.rs`, "--target", HOST, "--emit=dep-info=/tmp/x/dep.d"],
      scanDepFile: "/tmp/x/dep.d",
    });
  });

  it("the target is --target or the host", () => {
    const cross = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib", "--target", "aarch64-unknown-linux-gnu"]));
    expect(rustcCallOf(cross)?.target).toBe("aarch64-unknown-linux-gnu");
    const host = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib"]));
    expect(rustcCallOf(host)?.target).toBe(HOST);
    expect(host.outputs[0]!.path).toBe(`${WS}/liba.rlib`);
  });

  it("--sysroot moves the std crates hashed into the key", () => {
    const inv = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib", "--sysroot", "/opt/rust"]));
    expect(rustcCallOf(inv)?.sysroot).toBe("/opt/rust");
  });

  it("linked native libraries are hashed: named ones and the archives of native search directories", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "out"));
    writeFileSync(join(dir, "out", "libmodelc.a"), "!<arch>\n");
    writeFileSync(join(dir, "out", "libother.a"), "!<arch>\n");
    writeFileSync(join(dir, "out", "libshared.so"), "");
    const inv = expectCacheable(parse(["--crate-name", "m", "m.rs", "--crate-type", "lib", "-L", "native=out", "-l", "static=modelc", "-l", "shared"], { cwd: dir }));
    expect(inv.extraInputFiles.sort()).toEqual([join(dir, "out", "libmodelc.a"), join(dir, "out", "libother.a"), join(dir, "out", "libshared.so")]);
  });

  it("argument files are read for the key, and left to rustc in the compile", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "args"), "--crate-name\nm\n--crate-type\nlib\n-C\nopt-level=3\n");
    const inv = expectCacheable(parse(["@args", "m.rs"], { cwd: dir }));
    expect(inv.keyArgs).toEqual(["--crate-name", "m", "--crate-type", "lib", "--codegen", "opt-level=3", "m.rs"]);
    expect(inv.compileArgv.slice(0, 3)).toEqual([RUSTC, "@args", "m.rs"]);
  });

  it("colors human diagnostics for a terminal as rustc would (TERM, NO_COLOR, CLICOLOR); JSON diagnostics are left alone", () => {
    const term = { PATH: "/usr/bin:/bin", TERM: "xterm-256color" };
    const human = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib"], { stderrIsTTY: true, env: term }));
    expect(human.colorDiagnostics).toBe(true);
    expect(human.compileArgv).toContain("--color=always");
    for (const env of [{ PATH: "/usr/bin:/bin" }, { ...term, TERM: "dumb" }, { ...term, NO_COLOR: "1" }, { ...term, CLICOLOR: "0" }]) {
      const plain = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib"], { stderrIsTTY: true, env }));
      expect(plain.colorDiagnostics, JSON.stringify(env)).toBe(false);
      expect(plain.compileArgv).not.toContain("--color=always");
    }
    const auto = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib", "--color", "auto"], { stderrIsTTY: true, env: term }));
    expect(auto.compileArgv).toContain("always");
    expect(auto.compileArgv).not.toContain("auto");
    const json = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib", "--error-format=json"], { stderrIsTTY: true, env: term }));
    expect(json.colorDiagnostics).toBe(false);
    expect(json.compileArgv).not.toContain("--color=always");
  });

  it("files named in link arguments and the linker's environment are in a linking call's key", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "extra.o"), "obj");
    writeFileSync(join(dir, "v.map"), "{ global: *; };");
    const args = ["--crate-name", "p", "p.rs", "--crate-type", "bin", "-C", "link-arg=extra.o", "-C", "link-args=-Wl,--version-script=v.map -Wl,--as-needed"];
    const inv = expectCacheable(parse(args, { cwd: dir }));
    expect(inv.extraInputFiles).toEqual(expect.arrayContaining([join(dir, "extra.o"), join(dir, "v.map")]));
    expect(inv.keyEnv).toEqual(expect.arrayContaining(["LIBRARY_PATH", "LD_RUN_PATH"]));
    const lib = expectCacheable(parse(["--crate-name", "p", "p.rs", "--crate-type", "lib"], { cwd: dir }));
    expect(lib.keyEnv).not.toContain("LIBRARY_PATH");
  });

  it("without cargo's jobserver, the caller's environment is used as it is", () => {
    const inv = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib"], { env: { PATH: "/usr/bin:/bin" } }));
    expect(inv.compileEnv).toBeUndefined();
    const make = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib"], { env: { PATH: "/bin", MAKEFLAGS: "-j4 --jobserver-auth=3,4 -k" } }));
    expect(make.compileEnv).toEqual({ PATH: "/bin", MAKEFLAGS: "-j4 -k" });
  });

  it("a remap of the cwd takes the cwd out of the outputs", () => {
    const inv = expectCacheable(parse(["--crate-name", "a", "a.rs", "--crate-type", "lib", `--remap-path-prefix=${WS}=/src`]));
    expect(inv.dependsOnCwd).toBe(false);
  });
});

describe("what is not cached", () => {
  const base = ["--crate-name", "a", "a.rs", "--crate-type", "lib"];
  it.each([
    [["-C", "incremental=/w/target/debug/incremental"], "incremental"],
    [["-Cincremental=/x"], "incremental"],
    [["-C", "save-temps"], "save-temps"],
    [["-C", "split-debuginfo=packed"], "split-debuginfo"],
    [["--emit=asm"], "unsupported-emit"],
    [["--emit=llvm-ir,link"], "unsupported-emit"],
    [["--emit=link=-"], "output-to-stdout"],
    [["-o", "a.out"], "output-file"],
    [["--print=file-names"], "print"],
    [["-Z", "self-profile"], "unsupported-option"],
    [["-Zunpretty=expanded"], "unsupported-option"],
    [["--frobnicate"], "unsupported-option"],
    [["-Q"], "unsupported-option"],
    [["b.rs"], "multiple-sources"],
    [["--target", "x86_64-pc-windows-msvc", "--crate-type", "bin"], "unsupported-target-outputs"],
    [["--target", "./nope.json"], "target-spec"],
  ])("%j → %s", (extra, reason) => {
    expect(reasonOf(parse([...base, ...extra]))).toBe(reason);
  });

  it.each([
    [["-vV"], "not-a-compilation"],
    [["--version"], "not-a-compilation"],
    [["--explain", "E0308"], "not-a-compilation"],
    [["-C", "help", "--crate-name", "a", "--crate-type", "lib", "a.rs"], "not-a-compilation"],
    [["-Whelp"], "not-a-compilation"],
    [["--crate-name", "a", "--crate-type", "lib", "a.rs", "-Wunused", "--remap-path-scope", "object", "-Zshare-generics"], undefined],
    [["-", "--crate-name", "___", "--print=file-names", "--crate-type", "bin"], "print"],
    [["-", "--crate-name", "x", "--crate-type", "lib"], "stdin-source"],
    [["--crate-type", "lib", "a.rs"], "no-crate-name"],
    [["--crate-name", "a", "a.rs"], "no-crate-type"],
    [["--crate-name", "a", "--crate-type", "lib"], "no-source"],
    [["--crate-name", "a", "--crate-type", "lib", "--emit=dep-info", "a.rs"], "dependencies-only"],
    [["--crate-name", "a", "--crate-type", "sdylib", "a.rs"], "unsupported-crate-type"],
  ])("%j → %s", (args, reason: string | undefined) => {
    expect(reasonOf(parse(args))).toBe(reason);
  });

  it("a library still caches for Windows and macOS targets; their programs do not", () => {
    expectCacheable(parse([...base, "--target", "x86_64-pc-windows-msvc"]));
    expectCacheable(parse([...base, "--target", "aarch64-apple-darwin"]));
    expect(reasonOf(parse(["--crate-name", "a", "a.rs", "--crate-type", "proc-macro", "--target", "aarch64-apple-darwin"]))).toBe("unsupported-target-outputs");
  });
});

describe("behind a rustup proxy", () => {
  function rustupHome(settings: string) {
    const home = tempDir();
    const tc = join(home, "toolchains", `stable-${HOST}`);
    mkdirSync(join(tc, "bin"), { recursive: true });
    mkdirSync(join(home, "toolchains", `nightly-${HOST}`, "bin"), { recursive: true });
    writeFileSync(join(tc, "bin", "rustc"), "");
    writeFileSync(join(home, "settings.toml"), settings);
    return { home, sysroot: tc };
  }
  const args = ["--crate-name", "a", "a.rs", "--crate-type", "lib"];

  it("runs the toolchain's own rustc when the proxy would choose the detected toolchain", () => {
    const { home, sysroot } = rustupHome(`default_toolchain = "stable-${HOST}"\nprofile = "minimal"\n`);
    const compiler = fakeRustc({ proxy: true, sysroot, rustcPath: join(sysroot, "bin", "rustc"), rustcStamp: fileStamp(join(sysroot, "bin", "rustc")) });
    const cwd = tempDir();
    const inv = expectCacheable(engine.hooks.parseArguments.for("rustc").call(parseInput(["/home/u/.cargo/bin/rustc", ...args], { cwd, env: { RUSTUP_HOME: home }, compiler })));
    expect(inv.compileArgv[0]).toBe(join(sysroot, "bin", "rustc"));

    const viaEnv = engine.hooks.parseArguments.for("rustc").call(parseInput(["/home/u/.cargo/bin/rustc", ...args], { cwd, env: { RUSTUP_HOME: home, RUSTUP_TOOLCHAIN: "stable" }, compiler }));
    expect(reasonOf(viaEnv)).toBeUndefined();
    const other = engine.hooks.parseArguments.for("rustc").call(parseInput(["/home/u/.cargo/bin/rustc", ...args], { cwd, env: { RUSTUP_HOME: home, RUSTUP_TOOLCHAIN: "nightly" }, compiler }));
    expect(reasonOf(other)).toBe("rustup-toolchain-mismatch");
    const plus = engine.hooks.parseArguments.for("rustc").call(parseInput(["/home/u/.cargo/bin/rustc", "+nightly", ...args], { cwd, env: { RUSTUP_HOME: home }, compiler }));
    expect(reasonOf(plus)).toBe("rustup-toolchain-override");

    const pinned = tempDir();
    writeFileSync(join(pinned, "rust-toolchain.toml"), '[toolchain]\nchannel = "nightly"\n');
    mkdirSync(join(pinned, "sub"));
    const inPinned = engine.hooks.parseArguments.for("rustc").call(parseInput(["/home/u/.cargo/bin/rustc", ...args], { cwd: join(pinned, "sub"), env: { RUSTUP_HOME: home }, compiler }));
    expect(reasonOf(inPinned)).toBe("rustup-toolchain-mismatch");
    // A toolchain file that only asks for components keeps the default toolchain (thiserror ships one).
    writeFileSync(join(pinned, "rust-toolchain.toml"), '[toolchain]\ncomponents = ["rust-src"]\n');
    expect(reasonOf(engine.hooks.parseArguments.for("rustc").call(parseInput(["/home/u/.cargo/bin/rustc", ...args], { cwd: pinned, env: { RUSTUP_HOME: home }, compiler })))).toBeUndefined();
  });

  it("refuses a toolchain updated in place since detection", () => {
    const { home, sysroot } = rustupHome(`default_toolchain = "stable-${HOST}"\n`);
    const compiler = fakeRustc({ proxy: true, sysroot, rustcPath: join(sysroot, "bin", "rustc"), rustcStamp: "0:0:0:0" });
    expect(reasonOf(engine.hooks.parseArguments.for("rustc").call(parseInput(["/home/u/.cargo/bin/rustc", ...args], { cwd: tempDir(), env: { RUSTUP_HOME: home }, compiler })))).toBe("compiler-changed");
  });
});

describe("the daemon's jobserver", () => {
  it("is a named pipe with its tokens, given to the compiles instead of cargo's, and works for a real rustc", async () => {
    const dir = tempDir();
    let n = 0;
    const jobserver = new DaemonJobserver(3);
    const flags = jobserver.makeflags(() => join(dir, `js${++n}`));
    try {
      expect(flags).toBe(`-j4 --jobserver-auth=fifo:${join(dir, "js1")}`);
      expect(lstatSync(join(dir, "js1")).isFIFO()).toBe(true);
      // Same pipe while it exists; a new one when it was removed.
      expect(jobserver.makeflags(() => join(dir, `js${++n}`))).toBe(flags);
      const e = new Engine().use(createRustcPlugin({ jobserverTokens: 1 }));
      writeFileSync(join(dir, "w.rs"), "pub fn f() { let unused = 1; }\n");
      const input = parseInput([REAL_RUSTC, "--crate-name", "w", "--crate-type", "lib", "-C", "codegen-units=16", "--out-dir", dir, "w.rs"], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", CARGO_MAKEFLAGS: "-j --jobserver-fds=6,7 --jobserver-auth=6,7" },
        compiler: fakeRustc({ rustcPath: REAL_RUSTC }),
        tempPath: (suffix) => join(dir, `t${++n}${suffix}`),
      });
      const inv = expectCacheable(e.hooks.parseArguments.for("rustc").call(input));
      expect(inv.compileEnv?.CARGO_MAKEFLAGS).toMatch(/^-j2 --jobserver-auth=fifo:/);
      // rustc joins it without a word (cargo's descriptors would make it warn "failed to connect to jobserver").
      const r = await execa(inv.compileArgv[0]!, inv.compileArgv.slice(1), { cwd: dir, env: inv.compileEnv, extendEnv: false, reject: false });
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toContain("unused variable");
      expect(r.stderr).not.toContain("jobserver");
    } finally {
      jobserver.close();
    }
  });
});

describe("the key", () => {
  async function keyOf(argv: string[], compiler = fakeRustc()) {
    const e = new Engine().use(createRustcPlugin({ jobserverTokens: false }));
    const input = parseInput([RUSTC, ...argv], { compiler });
    const inv = expectCacheable(e.hooks.parseArguments.for("rustc").call(input));
    const h = new KeyHasher();
    await e.hooks.extendKey.promise(h, { request: { argv: input.argv, cwd: input.cwd, env: { ...input.env }, stdoutIsTTY: false, stderrIsTTY: false }, compiler, invocation: inv, mode: "direct", digestFile: async () => undefined });
    return h.digest();
  }

  it("has the target: the host's triple for proc macros and build scripts (no --target), --target otherwise", async () => {
    const pm = ["--crate-name", "d", "d.rs", "--crate-type", "proc-macro", "--emit=dep-info,link"];
    const onX86 = await keyOf(pm);
    // The same call to a rustc of another host builds a proc macro for that host.
    expect(await keyOf(pm, fakeRustc({ host: "aarch64-unknown-linux-gnu" }))).not.toBe(onX86);
    expect(await keyOf(pm)).toBe(onX86);
    const lib = ["--crate-name", "l", "l.rs", "--crate-type", "lib"];
    expect(await keyOf([...lib, "--target", "aarch64-unknown-linux-gnu"])).not.toBe(await keyOf(lib));
  });
});

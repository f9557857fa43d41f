/**
 * The client side of the rustup tests: this machine's rustup installing
 * from a loopback distribution server into a home of its own, and the
 * descriptor (release, commit, target, std digest) a rustc sysroot has.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { DirectoryDigests } from "@reprise/plugin-rustc";
import { descriptorId, stdDigest } from "@reprise/plugin-rustup";

const HOME = process.env.HOME ?? "/root";

/** rustup at rustup's default place, else the one on PATH. */
export const RUSTUP = existsSync(join(HOME, ".cargo/bin/rustup")) ? join(HOME, ".cargo/bin/rustup") : "rustup";

/**
 * `rustup <args>` against the distribution server at `distUrl`, with
 * RUSTUP_HOME `<dir>/client-rh` and CARGO_HOME `<dir>/client-ch`. Async: a
 * dist server answering it may run in this process.
 */
export async function rustupAsClient(dir: string, distUrl: string, args: string[], timeoutMs: number): Promise<void> {
  await promisify(execFile)(RUSTUP, args, {
    env: { ...process.env, RUSTUP_HOME: join(dir, "client-rh"), CARGO_HOME: join(dir, "client-ch"), RUSTUP_DIST_SERVER: distUrl, RUST_BACKTRACE: "0", RUSTUP_AUTO_INSTALL: "0" },
    encoding: "utf8",
    timeout: timeoutMs,
  });
}

/** The descriptor of the rustc in `sysroot` with its std for `target`. */
export async function rustcDescriptor(sysroot: string, target: string): Promise<{ id: string; release: string; commit: string }> {
  const vv = execFileSync(join(sysroot, "bin/rustc"), ["-vV"], { encoding: "utf8", env: { ...process.env, LD_LIBRARY_PATH: join(sysroot, "lib") } });
  const release = /^release: (.*)$/m.exec(vv)![1]!;
  const commit = /^commit-hash: (.*)$/m.exec(vv)![1]!;
  const digest = (await stdDigest(new DirectoryDigests(), sysroot, target))!;
  return { id: descriptorId({ release, commitHash: commit, target, stdDigest: digest })!, release, commit };
}

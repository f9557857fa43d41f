import { spawnSync } from "node:child_process";
import { closeSync, constants, lstatSync, openSync, unlinkSync, writeSync } from "node:fs";
import { availableParallelism } from "node:os";

/**
 * Environment variables whose values reach rustc's outputs or diagnostics
 * without appearing in its dep-info (`env!`/`option_env!` reads appear there
 * as `# env-dep:` lines, which the engine matches on its own):
 *
 *  - `CARGO` and the `CARGO_*` variables cargo sets for a crate (package
 *    metadata, `CARGO_MANIFEST_DIR`, `CARGO_PRIMARY_PACKAGE`, `CARGO_CRATE_NAME`,
 *    …), which proc macros read at will, and any other `CARGO_*` variable —
 *    except cargo's own configuration (`CARGO_HOME`, `CARGO_INCREMENTAL`,
 *    `CARGO_BUILD_*`, `CARGO_TERM_*`, `CARGO_PROFILE_*`, …: cargo turns what
 *    of it matters to rustc into arguments) and `CARGO_MAKEFLAGS`, which holds
 *    the jobserver's file descriptors and differs on every build;
 *  - `__CARGO_*` variables cargo sets for special builds (std);
 *  - rustc's own switches: `RUSTC_BOOTSTRAP` (unstable features on stable),
 *    `RUST_TARGET_PATH` (where custom target specs are found);
 *  - when the call links (programs, proc macros, shared libraries): what the
 *    system linker reads from the environment — `LIBRARY_PATH` (which `-l`
 *    library it finds), `LD_RUN_PATH` (written into the program as its
 *    run path), `COMPILER_PATH` and `GCC_EXEC_PREFIX` (which `ld` gcc runs);
 *  - for Apple targets, the SDK and deployment-target variables the linker
 *    and codegen read.
 */
const FIXED = ["CARGO", "RUSTC_BOOTSTRAP", "RUST_TARGET_PATH"];
const LINKER = ["LIBRARY_PATH", "LD_RUN_PATH", "COMPILER_PATH", "GCC_EXEC_PREFIX"];
const APPLE = ["SDKROOT", "MACOSX_DEPLOYMENT_TARGET", "IPHONEOS_DEPLOYMENT_TARGET", "TVOS_DEPLOYMENT_TARGET", "WATCHOS_DEPLOYMENT_TARGET", "XROS_DEPLOYMENT_TARGET"];

/** cargo's configuration variables (https://doc.rust-lang.org/cargo/reference/config.html#environment-variables) and the jobserver. */
const CARGO_CONFIG =
  /^CARGO_(MAKEFLAGS|HOME|TARGET_DIR|INCREMENTAL|CACHE_RUSTC_INFO|LOG|ENCODED_RUSTFLAGS|INSTALL_ROOT|BUILD_|TERM_|NET_|HTTP_|REGISTRIES_|REGISTRY_|PROFILE_|ALIAS_|FUTURE_INCOMPAT_REPORT_|CARGO_NEW_|UNSTABLE_|RESOLVER_|DOC_|SOURCE_|PATCH_|LLVM_COV|TARGET_(?!TMPDIR$))/;

export function keyEnvNames(env: Readonly<Record<string, string>>, target: string, links = false): string[] {
  const names = new Set(FIXED);
  if (links) for (const n of LINKER) names.add(n);
  if (/-apple-/.test(target)) for (const n of APPLE) names.add(n);
  for (const name of Object.keys(env)) {
    if ((name.startsWith("CARGO_") && !CARGO_CONFIG.test(name)) || name.startsWith("__CARGO_")) names.add(name);
  }
  return [...names].sort();
}

/**
 * Whether rustc colors human-readable diagnostics written to a terminal with
 * `--color=auto` (its default): not for `TERM=dumb` or no `TERM`, nor when
 * `NO_COLOR` is set (non-empty) or `CLICOLOR=0`.
 */
export function terminalWantsColor(env: Readonly<Record<string, string>>): boolean {
  const term = env.TERM;
  if (!term || term === "dumb") return false;
  if (env.NO_COLOR) return false;
  if (env.CLICOLOR === "0") return false;
  return true;
}

/** A jobserver given by inherited pipe file descriptors (`--jobserver-auth=R,W`, `--jobserver-fds=R,W`). */
const FD_JOBSERVER = /\s*--jobserver-(?:auth|fds)=\d+,\d+/g;

/**
 * The environment of the compile the daemon runs on a miss.
 *
 * rustc joins the jobserver named in `CARGO_MAKEFLAGS` (then `MAKEFLAGS`,
 * `MFLAGS`). cargo's is a pipe whose file descriptors only cargo's children
 * hold, not the daemon: rustc would warn "failed to connect to jobserver"
 * into the very diagnostics a hit replays, and then use a jobserver of its
 * own with 32 tokens. So the compile gets, instead of cargo's, the daemon's
 * jobserver (a named pipe shared by every rustc the daemon runs, see
 * `DaemonJobserver`), or none when that one is not available. Descriptor
 * jobservers are also taken out of `MAKEFLAGS`/`MFLAGS`.
 *
 * Returns undefined when the caller's environment can be used as it is.
 */
export function compileEnvironment(env: Readonly<Record<string, string>>, jobserver?: string): Record<string, string> | undefined {
  const out: Record<string, string> = { ...env };
  let changed = false;
  if ("CARGO_MAKEFLAGS" in out) {
    delete out.CARGO_MAKEFLAGS;
    changed = true;
  }
  for (const name of ["MAKEFLAGS", "MFLAGS"]) {
    const v = out[name];
    const stripped = v?.replace(FD_JOBSERVER, "");
    if (v !== undefined && stripped !== v) {
      out[name] = stripped!;
      changed = true;
    }
  }
  if (jobserver) {
    out.CARGO_MAKEFLAGS = jobserver;
    changed = true;
  }
  return changed ? out : undefined;
}

function isFifo(path: string): boolean {
  try {
    return lstatSync(path).isFIFO();
  } catch {
    return false;
  }
}

/**
 * The daemon's own jobserver for the rustc processes it runs: a named pipe
 * (GNU make 4.4's `fifo:` style, which rustc's jobserver client opens by
 * path) holding `tokens` tokens. Every rustc keeps one implicit token and
 * takes more from the pipe for parallel code generation, so the rustc
 * processes of one daemon use at most (concurrent compiles + `tokens`)
 * threads, where without it each would allow itself 32. The daemon keeps the
 * pipe open (so its tokens survive between compiles) for its lifetime.
 *
 * Created on first use in the daemon's private temporary directory; when it
 * cannot be created (no `mkfifo`, no FIFOs on this system) compiles get no
 * jobserver. A rustc killed while it held tokens takes them with it until the
 * daemon restarts; compiles still progress on their implicit tokens.
 */
export class DaemonJobserver {
  private path: string | undefined;
  private fd: number | undefined;
  private failed = false;

  constructor(readonly tokens: number = Math.max(0, availableParallelism() - 1)) {}

  /** The `CARGO_MAKEFLAGS` value naming this jobserver, or undefined. `freshPath` gives a path to create it at. */
  makeflags(freshPath: () => string): string | undefined {
    if (this.failed || process.platform === "win32") return undefined;
    if (this.path && this.fd !== undefined && isFifo(this.path)) return this.value(this.path);
    this.close();
    const path = freshPath();
    try {
      const r = spawnSync("mkfifo", ["-m", "600", path], { stdio: "ignore", timeout: 5000 });
      if (r.status !== 0 || !isFifo(path)) throw new Error("mkfifo failed");
      // Read-write: never blocks on open, and the daemon's reference keeps the tokens in the pipe.
      const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
      if (this.tokens > 0) writeSync(fd, Buffer.alloc(this.tokens, "+"));
      this.path = path;
      this.fd = fd;
      return this.value(path);
    } catch {
      this.failed = true;
      try {
        unlinkSync(path);
      } catch {
        // never created
      }
      return undefined;
    }
  }

  private value(path: string): string {
    return `-j${this.tokens + 1} --jobserver-auth=fifo:${path}`;
  }

  close(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    this.fd = undefined;
    this.path = undefined;
  }
}

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
 *  - for Apple targets, the SDK and deployment-target variables the linker
 *    and codegen read.
 */
const FIXED = ["CARGO", "RUSTC_BOOTSTRAP", "RUST_TARGET_PATH"];
const APPLE = ["SDKROOT", "MACOSX_DEPLOYMENT_TARGET", "IPHONEOS_DEPLOYMENT_TARGET", "TVOS_DEPLOYMENT_TARGET", "WATCHOS_DEPLOYMENT_TARGET", "XROS_DEPLOYMENT_TARGET"];

/** cargo's configuration variables (https://doc.rust-lang.org/cargo/reference/config.html#environment-variables) and the jobserver. */
const CARGO_CONFIG =
  /^CARGO_(MAKEFLAGS|HOME|TARGET_DIR|INCREMENTAL|CACHE_RUSTC_INFO|LOG|ENCODED_RUSTFLAGS|INSTALL_ROOT|BUILD_|TERM_|NET_|HTTP_|REGISTRIES_|REGISTRY_|PROFILE_|ALIAS_|FUTURE_INCOMPAT_REPORT_|CARGO_NEW_|UNSTABLE_|RESOLVER_|DOC_|SOURCE_|PATCH_|LLVM_COV|TARGET_(?!TMPDIR$))/;

export function keyEnvNames(env: Readonly<Record<string, string>>, target: string): string[] {
  const names = new Set(FIXED);
  if (/-apple-/.test(target)) for (const n of APPLE) names.add(n);
  for (const name of Object.keys(env)) {
    if ((name.startsWith("CARGO_") && !CARGO_CONFIG.test(name)) || name.startsWith("__CARGO_")) names.add(name);
  }
  return [...names].sort();
}

/** A jobserver given by inherited pipe file descriptors (`--jobserver-auth=R,W`, `--jobserver-fds=R,W`); a `fifo:` one works anywhere. */
const FD_JOBSERVER = /\s*--jobserver-(?:auth|fds)=\d+,\d+/g;

/**
 * rustc joins the jobserver named in `CARGO_MAKEFLAGS` (then `MAKEFLAGS`,
 * `MFLAGS`). A miss is compiled by the daemon, which does not hold cargo's
 * pipe: rustc would warn "failed to connect to jobserver" into the very
 * diagnostics a hit replays. So the compile the daemon runs gets no
 * descriptor-based jobserver and falls back to its own thread limit (the
 * daemon's `maxJobs` bounds how many compiles run at once). Calls that are
 * not cached run in the client with cargo's environment and jobserver intact.
 *
 * The engine has no way yet for a plugin to set the environment of the
 * compile it runs; this edits the call's environment object, which the
 * engine passes on unchanged to the compile.
 */
export function removeJobserverFromEnv(env: Readonly<Record<string, string>>): void {
  const e = env as Record<string, string>;
  try {
    if ("CARGO_MAKEFLAGS" in e) delete e.CARGO_MAKEFLAGS;
    for (const name of ["MAKEFLAGS", "MFLAGS"]) {
      const v = e[name];
      const stripped = v?.replace(FD_JOBSERVER, "");
      if (v !== undefined && stripped !== v) e[name] = stripped!;
    }
  } catch {
    // A frozen environment: rustc prints its warning, nothing worse.
  }
}

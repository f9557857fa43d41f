/**
 * Every rustup call a builder makes: bounded by a timeout (a server that
 * accepts the connection and never answers hangs rustup forever), its output
 * streamed to the builder's log line by line (download progress), and its
 * failure turned into a ProvideError saying what to do.
 */
import { ProvideError } from "./types.js";

export interface RustupEnvironment {
  rustup: string;
  rustupHome: string;
  cargoHome: string;
  distServer?: string;
  updateRoot?: string;
  timeoutMs: number;
  log: (msg: string) => void;
}

export function rustupEnv(o: RustupEnvironment): Record<string, string> {
  return {
    RUSTUP_HOME: o.rustupHome,
    CARGO_HOME: o.cargoHome,
    RUST_BACKTRACE: "0",
    RUSTUP_AUTO_INSTALL: "0",
    ...(o.distServer ? { RUSTUP_DIST_SERVER: o.distServer } : {}),
    ...(o.updateRoot ? { RUSTUP_UPDATE_ROOT: o.updateRoot } : {}),
  };
}

export async function runRustup(o: RustupEnvironment, args: string[]): Promise<string> {
  const server = o.distServer ?? "https://static.rust-lang.org";
  o.log(`rustup ${args.join(" ")} (RUSTUP_HOME=${o.rustupHome}, server ${server})`);
  // Loaded when first run: ~100 modules that a daemon's start need not pay for.
  const { execa } = await import("execa");
  const child = execa(o.rustup, args, { env: rustupEnv(o), extendEnv: true, timeout: o.timeoutMs, reject: false, all: true, stdin: "ignore" });
  let all = "";
  child.all?.on("data", (d: Buffer) => {
    const text = d.toString();
    all += text;
    for (const line of text.split(/[\r\n]+/)) if (line.trim()) o.log(`rustup: ${line.trim()}`);
  });
  const r = await child;
  if (r.timedOut) throw new ProvideError("timeout", `rustup ${args.join(" ")} did not finish in ${Math.round(o.timeoutMs / 1000)} s (is the distribution server ${server} answering?)`);
  if (r.exitCode === 0) return all;
  const error = /error: .*/.exec(all)?.[0] ?? `rustup exited with status ${r.exitCode ?? r.signal}`;
  if (/could not download|error sending request|Connection refused|tcp connect error|dns error|timed out/i.test(all)) {
    throw new ProvideError("unreachable", `the rustup distribution server ${server} cannot be reached (check RUSTUP_DIST_SERVER / the builder's rust.rustup.distServer): ${error}`);
  }
  if (/no prebuilt artifacts|unavailable for download|nonexistent rust version|no release found|not installable/i.test(all)) {
    throw new ProvideError("not-offered", `${server} does not offer it: ${error}`);
  }
  throw new ProvideError("install-failed", `rustup ${args.join(" ")} failed: ${error}`);
}

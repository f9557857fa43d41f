import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { daemonLockPath, runtimeDir, socketPath } from "../util/paths.js";
import { checkedRuntime } from "../client/checked-runtime.js";
import { REPRISE_VERSION } from "../version.js";
import { exchange, isListening } from "../client/exchange.js";
import { EXIT_LOCK_HELD, spawnDaemon } from "../client/spawn-daemon.js";
import { readStartupFailure } from "../daemon/startup-failure.js";
import { frame, FrameType } from "../protocol/frames.js";
import { formatStats, type StatsReply } from "./format-stats.js";

const USAGE = "Usage: reprise <compiler> [compiler arguments...]\n       reprise [options]";

const noSinks = { stdout: () => {}, stderr: () => {} };

async function send(command: string, extra: Record<string, unknown> = {}): Promise<unknown | undefined> {
  const access = checkedRuntime(false);
  if (access.kind !== "ok" || !access.socket) return undefined;
  const outcome = await exchange(access.sock, frame(FrameType.Command, JSON.stringify({ command, ...extra })), noSinks);
  return outcome.kind === "reply" ? outcome.data : undefined;
}

async function startServer(): Promise<boolean> {
  const access = checkedRuntime(true);
  if (access.kind !== "ok") return false;
  const sock = access.sock;
  if (access.socket && (await isListening(sock))) return true;
  const daemon = spawnDaemon(access.runtime);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await isListening(sock)) return true;
    if (daemon.exitCode !== undefined && daemon.exitCode !== EXIT_LOCK_HELD) {
      const failure = readStartupFailure(access.runtime);
      if (failure) process.stderr.write(`reprise: ${failure.message}\n`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** `reprise install-native [--from-source]`: the platform package's prebuilt client, else one built with the system C compiler (scripts/install-native.mjs). */
function installNative(args: string[]): number {
  const script = fileURLToPath(new URL("../../scripts/install-native.mjs", import.meta.url));
  const r = spawnSync(process.execPath, [script, "--required", ...args], { stdio: "inherit" });
  if (r.error) process.stderr.write(`reprise: cannot run ${script}: ${r.error.message}\n`);
  return r.status ?? 1;
}

/** Administrative commands: `reprise --show-stats`, `--stop-server`, `install-native`, ... */
export async function runCommand(args: string[]): Promise<number> {
  if (args[0] === "install-native") return installNative(args.slice(1));
  if (args[0] === "--package-toolchain") {
    const { packageToolchainCommand } = await import("./toolchain-commands.js");
    const targets: string[] = [];
    for (let i = 3; i < args.length; i++) {
      if (args[i] === "--target" && args[i + 1]) targets.push(args[++i]!);
      else if (args[i]!.startsWith("--target=")) targets.push(args[i]!.slice("--target=".length));
      else {
        process.stderr.write(`reprise: unknown argument ${args[i]} (usage: reprise --package-toolchain <compiler> <out.tar.gz> [--target <triple>]...)\n`);
        return 2;
      }
    }
    return packageToolchainCommand(args[1], args[2], undefined, targets);
  }
  if (args[0] === "--explain") {
    const { explainCommand } = await import("./explain-command.js");
    return explainCommand(args.slice(1), { startServer, send });
  }
  if (args[0] === "link-compilers") {
    const { linkCompilersCommand } = await import("./link-compilers.js");
    return linkCompilersCommand(args.slice(1));
  }
  if (args[0] === "toolchain") {
    const { toolchainCommand } = await import("./toolchain-commands.js");
    return toolchainCommand(args.slice(1));
  }
  if (args.length === 0) {
    process.stderr.write(`${USAGE}\nreprise: nothing to do; reprise --help lists the commands\n`);
    return 1;
  }
  const { helpFooter } = await import("./help-text.js");
  let code = 0;
  const program = new Command("reprise")
    .usage(USAGE.replace(/^Usage: reprise /, ""))
    .description("A compiler cache: put it in front of gcc, clang or rustc.\nExamples: reprise gcc -c a.c -o a.o   |   CC=\"reprise gcc\" make   |   cmake -DCMAKE_C_COMPILER_LAUNCHER=reprise")
    .version(REPRISE_VERSION, "-V, --version")
    .option("--start-server", "start the background daemon")
    .option("--stop-server", "stop the background daemon")
    .option("-s, --show-stats", "show cache statistics")
    .option("-z, --zero-stats", "reset statistics")
    .option("-p, --show-config", "show the effective configuration and where each value came from")
    .option("-C, --clear", "remove every entry of the cache (the one the working directory's settings use)")
    .option("-M, --max-size <size>", "set the cache's size limit (500M, 10G), kept in the cache directory")
    .option("--dist-status", "show the build farm: the scheduler's pools and this client's view")
    .option("--json", "with --show-stats, --show-config or --dist-status: machine-readable output")
    .addHelpText("after", helpFooter())
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  try {
    program.parse(args, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<{ startServer?: boolean; stopServer?: boolean; showStats?: boolean; zeroStats?: boolean; showConfig?: boolean; clear?: boolean; maxSize?: string; json?: boolean; distStatus?: boolean }>();
  if (o.distStatus) {
    const { distStatus } = await import("./dist-status.js");
    const { SettingsLoader } = await import("../config/load-settings.js");
    const settings = await new SettingsLoader().load(process.cwd(), process.env as Record<string, string>);
    const reply = (await isListening(socketPath(runtimeDir()))) ? ((await send("stats", { cwd: process.cwd(), env: reprEnv() })) as StatsReply | undefined) : undefined;
    return distStatus(settings.dist, reply?.stats, o.json === true);
  }
  if (!o.startServer && !o.stopServer && !o.showStats && !o.zeroStats && !o.showConfig && !o.clear && !o.maxSize) {
    program.outputHelp({ error: true });
    return 1;
  }
  if (o.maxSize) {
    const { setMaxSize } = await import("./max-size.js");
    try {
      const { file, bytes } = await setMaxSize(o.maxSize);
      process.stdout.write(`Set the cache size limit to ${o.maxSize} (${bytes} bytes) in ${file}.\n`);
      if (process.env.REPRISE_CACHE_SIZE) process.stderr.write(`reprise: note: REPRISE_CACHE_SIZE=${process.env.REPRISE_CACHE_SIZE} is set and wins over it\n`);
      // A running daemon keeps its settings and storage: the next call starts one that reads the new limit.
      if (await send("stop")) process.stdout.write("Restarting the daemon for the new limit.\n");
    } catch (err) {
      process.stderr.write(`reprise: ${(err as Error).message}\n`);
      return 1;
    }
  }
  if (o.stopServer) {
    const reply = (await send("stop")) as { pid?: number } | undefined;
    if (reply) {
      // The socket goes first; the lock is released last, once the daemon has flushed its state and removed its files.
      const lock = daemonLockPath(runtimeDir());
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (await isListening(lock))) await new Promise((r) => setTimeout(r, 20));
      process.stdout.write(`Stopped the Reprise daemon (pid ${reply.pid}).\n`);
    } else {
      process.stdout.write("No Reprise daemon was running.\n");
    }
  }
  if (o.startServer) {
    if (await startServer()) process.stdout.write("Reprise daemon is running.\n");
    else {
      process.stderr.write(`reprise: the daemon did not start; see ${runtimeDir()}/daemon.log\n`);
      code = 1;
    }
  }
  if (o.showConfig) {
    const { showConfigCommand } = await import("./show-config.js");
    code = (await showConfigCommand(o.json === true)) || code;
  }
  if (o.clear) {
    const reply = (await startServer()) ? ((await send("clear", { cwd: process.cwd(), env: reprEnv() })) as ClearReply | undefined) : undefined;
    if (!reply?.ok) {
      process.stderr.write(`reprise: could not clear the cache${reply?.error ? `: ${reply.error}` : ": the daemon did not answer"}\n`);
      code = 1;
    } else process.stdout.write(`Cleared the cache at ${reply.location} (${reply.removedEntries} files, ${(reply.removedBytes! / 1024 ** 2).toFixed(1)} MiB).\n`);
  }
  if (o.zeroStats) {
    if (!(await startServer()) || !(await send("zero-stats"))) {
      process.stderr.write("reprise: could not reach the daemon to reset statistics\n");
      code = 1;
    } else process.stdout.write("Statistics zeroed.\n");
  }
  if (o.showStats) {
    if (!(await startServer())) {
      process.stderr.write("reprise: could not reach the daemon\n");
      return 1;
    }
    const reply = (await send("stats", { cwd: process.cwd(), env: reprEnv() })) as StatsReply | undefined;
    if (!reply) {
      process.stderr.write("reprise: the daemon did not answer\n");
      return 1;
    }
    process.stdout.write(o.json ? `${JSON.stringify(reply, null, 2)}\n` : formatStats(reply));
  }
  return code;
}

interface ClearReply {
  ok?: boolean;
  error?: string;
  location?: string;
  removedEntries?: number;
  removedBytes?: number;
}

function reprEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("REPRISE_") || k === "HOME" || k.startsWith("XDG_")) as [string, string][]);
}

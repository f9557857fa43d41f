/**
 * `reprise-dist local-farm --builders N`: a scheduler and N sandboxed
 * builders on loopback with fresh credentials, as child processes, in the
 * foreground until interrupted. Stdout carries only the `export NAME=value`
 * lines a client shell needs; the children's logs go to stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { BUILDER_NODE_FLAGS } from "../builder/node-flags.js";

const BIN = fileURLToPath(new URL("../bin/reprise-dist.js", import.meta.url));

export interface LocalFarmOptions {
  builders: number;
  sandbox: string;
  dir?: string;
  port: number;
  /** Where the children's output goes (default: our stderr). */
  log?: (chunk: string) => void;
}

export interface LocalFarm {
  schedulerUrl: string;
  clientToken: string;
  builderUrls: string[];
  exports: string[];
  /** Resolves when a child died on its own (the farm is then stopped). */
  died: Promise<string>;
  stop(): Promise<void>;
}

function token(): string {
  return randomBytes(24).toString("base64url");
}

/** Spawns `reprise-dist <args>` and resolves with its URL once it prints "listening at|on <url>". */
function spawnListening(args: string[], label: string, log: (s: string) => void, env: NodeJS.ProcessEnv, nodeFlags: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...nodeFlags, BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  let seen = "";
  child.stderr!.on("data", (d: Buffer) => log(`[${label}] ${d.toString()}`));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within 120 s`)), 120_000);
    child.stdout!.on("data", (d: Buffer) => {
      log(`[${label}] ${d.toString()}`);
      seen += d.toString();
      const m = /listening (?:at|on) (\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, url: m[1]! });
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${signal ?? code}) before it listened`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    child.kill("SIGTERM");
  });
}

export async function startLocalFarm(o: LocalFarmOptions): Promise<LocalFarm> {
  const log = o.log ?? ((s: string) => void process.stderr.write(s));
  const ownDir = !o.dir;
  const dir = o.dir ? resolve(o.dir) : mkdtempSync(join(tmpdir(), "reprise-local-farm-"));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const clientToken = token();
  const builderToken = token();
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(children.map(stopChild));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  // The children read their settings from their config files only, never from the caller's REPRISE_DIST_* variables.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("REPRISE_DIST"))) as NodeJS.ProcessEnv;
  try {
    const schedulerConfig = join(dir, "scheduler.json");
    writeFileSync(
      schedulerConfig,
      JSON.stringify({ listen: `127.0.0.1:${o.port}`, auth: { clientTokens: [clientToken], builderTokens: [builderToken] }, heartbeatIntervalMs: 2000, logLevel: "warn" }, null, 2),
      { mode: 0o600 },
    );
    const scheduler = await spawnListening(["scheduler", "--config", schedulerConfig], "scheduler", log, env);
    children.push(scheduler.child);
    const slots = Math.max(1, Math.round(availableParallelism() / o.builders));
    const builders = await Promise.all(
      Array.from({ length: o.builders }, async (_, i) => {
        const id = `local-${i + 1}`;
        const file = join(dir, `${id}.json`);
        writeFileSync(
          file,
          JSON.stringify({
            schedulerUrl: scheduler.url,
            token: builderToken,
            builderId: id,
            listen: { host: "127.0.0.1", port: 0 },
            dataDir: join(dir, id),
            sandbox: o.sandbox,
            maxJobs: slots,
            // Client and builders share this machine: the client's own build must not make the builders refuse work.
            yieldAboveLoad: 1_000_000,
            logLevel: "warn",
          }),
          { mode: 0o600 },
        );
        const b = await spawnListening(["builder", "--config", file], id, log, env, BUILDER_NODE_FLAGS);
        children.push(b.child);
        return b.url;
      }),
    );
    const died = new Promise<string>((resolveDied) => {
      for (const child of children) child.once("exit", (code, signal) => !stopping && resolveDied(`a farm process (pid ${child.pid}) exited (${signal ?? code})`));
    });
    return {
      schedulerUrl: scheduler.url,
      clientToken,
      builderUrls: builders,
      exports: [`export REPRISE_DIST_SCHEDULER_URL=${scheduler.url}`, `export REPRISE_DIST_TOKEN=${clientToken}`],
      died,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export function addLocalFarmCommand(program: Command): void {
  program
    .command("local-farm")
    .description("run a scheduler and N sandboxed builders on loopback, printing the export lines a client shell needs")
    .option("-b, --builders <n>", "number of builders", "2")
    .option("--sandbox <names>", "sandboxes the builders use, in order", "bwrap,docker")
    .option("--port <n>", "the scheduler's port (0: any free port)", "0")
    .option("--dir <dir>", "keep configs, toolchains and inputs here (default: a temporary directory removed at exit)")
    .action(async (opts: { builders: string; sandbox: string; port: string; dir?: string }) => {
      const builders = Number(opts.builders);
      if (!Number.isInteger(builders) || builders < 1 || builders > 64) {
        process.stderr.write("reprise-dist local-farm: --builders takes a number from 1 to 64\n");
        process.exit(2);
      }
      let farm: LocalFarm;
      try {
        farm = await startLocalFarm({ builders, sandbox: opts.sandbox, port: Number(opts.port), ...(opts.dir ? { dir: opts.dir } : {}) });
      } catch (err) {
        process.stderr.write(`reprise-dist local-farm: cannot start: ${(err as Error).message}\n`);
        process.exit(2);
      }
      process.stdout.write(`${farm.exports.join("\n")}\n`);
      process.stderr.write(`local farm: scheduler ${farm.schedulerUrl}, ${builders} builder(s); Ctrl-C stops it\n`);
      const stop = (code: number) => void farm.stop().then(() => process.exit(code));
      process.once("SIGINT", () => stop(0));
      process.once("SIGTERM", () => stop(0));
      void farm.died.then((why) => {
        process.stderr.write(`reprise-dist local-farm: ${why}; stopping\n`);
        stop(1);
      });
    });
}

/**
 * The farm of the cross-architecture suite: the ARMv7 scheduler (npm's Node
 * 20.11 under qemu-arm), an x86_64 builder on this machine and an aarch64
 * builder in the arm64 root, each file's own, in a fresh work directory the
 * root can see. Also its aarch64 clients (a daemon in the root).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, inject } from "vitest";
import { text, type StatsJson } from "../../support/reprise-env.js";
import { startBuilder, type BuilderOptions, type FarmProcess } from "../../support/farm-processes.js";
import { farmClientEnv } from "../../support/farm-client.js";
import { startSchedulerProcess, farmRequest, type SchedulerProcess } from "../../../packages/dist/test/support/scheduler-process.js";
import { armv7Node } from "../../../packages/dist/test/support/armv7-node.js";
import { inRoot, ROOT_REPRISE, startAarch64Builder, type RootSession } from "./aarch64-root.js";

/** What a builder of the suite adds to its config (toolchains, log level ...). */
export type BuilderExtra = BuilderOptions["extra"];

/** An aarch64 client: `reprise <args>` in its directory, through its daemon in the root. */
export interface Aarch64Client {
  (args: string[]): ReturnType<typeof inRoot>;
  /** Its daemon's stats. */
  stats(): Promise<StatsJson>;
  /** The end of its daemon's log. */
  log(): string;
}

export class CrossArchFarm {
  armBuilder: FarmProcess | undefined;

  private constructor(
    readonly session: RootSession,
    readonly work: string,
    readonly sched: SchedulerProcess,
    readonly x86Builder: FarmProcess,
    armBuilder: FarmProcess,
  ) {
    this.armBuilder = armBuilder;
  }

  /**
   * Starts the scheduler and both builders (2 slots each, `x86` and `arm` added to their configs) and waits until
   * both pools are there. `prefix` names the work directory.
   */
  static async start(prefix: string, extra: { x86: BuilderExtra; arm: BuilderExtra }): Promise<CrossArchFarm> {
    const session: RootSession = { root: inject("aarch64Root"), workDirs: [] };
    const work = mkdtempSync(join(tmpdir(), prefix));
    chmodSync(work, 0o755);
    session.workDirs.push(work);
    let sched: SchedulerProcess | undefined;
    let started: PromiseSettledResult<FarmProcess>[] = [];
    try {
      sched = await startSchedulerProcess({ node: armv7Node(), timeoutMs: 300_000, config: { heartbeatIntervalMs: 2000, missedHeartbeats: 3 } });
      const base = { schedulerUrl: sched.url, token: sched.builderToken, maxJobs: 2 };
      started = await Promise.allSettled([
        startBuilder({ ...base, builderId: "x86-64", dataDir: join(work, "builder-x86"), extra: extra.x86 }),
        startAarch64Builder(session, { ...base, builderId: "arm64", dataDir: join(work, "builder-arm64"), extra: extra.arm }),
      ]);
      const [x86, arm] = started;
      if (x86!.status === "rejected") throw x86!.reason;
      if (arm!.status === "rejected") throw arm!.reason;
      const farm = new CrossArchFarm(session, work, sched, x86!.value, arm!.value);
      await farm.waitForPools(["linux/aarch64", "linux/x86_64"]);
      return farm;
    } catch (err) {
      // Nothing of a farm that did not come up stays behind.
      await Promise.all(started.map((p) => (p.status === "fulfilled" ? p.value.kill() : undefined)));
      await sched?.stop();
      rmSync(work, { recursive: true, force: true });
      throw err;
    }
  }

  /** The client environment: every miss to the farm, `prefer` (os/arch) first, long job and short allocation bounds. */
  env(prefer: string): Record<string, string> {
    return farmClientEnv(this.sched, { REPRISE_DIST_PREFER_PLATFORM: prefer, REPRISE_DIST_JOB_TIMEOUT_MS: "600000", REPRISE_DIST_ALLOCATE_TIMEOUT_MS: "5000" });
  }

  /** The scheduler's /v1/status, typed as the caller reads it. */
  async status<T extends { pools: { platform: { arch: string; os: string } }[] }>(): Promise<T> {
    return (await farmRequest(this.sched.url, "GET", "/v1/status", { token: this.sched.clientToken })).body as T;
  }

  /** Waits (bounded: 600 polls, 500 ms apart) until the scheduler's pools are exactly `expected` (os/arch, sorted). */
  async waitForPools(expected: string[]): Promise<void> {
    let seen: string[] = [];
    for (let i = 0; i < 600; i++) {
      seen = (await this.status()).pools.map((p) => `${p.platform.os}/${p.platform.arch}`).sort();
      if (JSON.stringify(seen) === JSON.stringify(expected)) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`the scheduler's pools are ${seen.join(", ")}, not ${expected.join(", ")}`);
  }

  /** Stops the aarch64 builder and waits until the scheduler has only the x86_64 pool. */
  async stopArmBuilder(): Promise<void> {
    await this.armBuilder!.kill();
    this.armBuilder = undefined;
    await this.waitForPools(["linux/x86_64"]);
  }

  /**
   * An aarch64 client whose daemon runs in the root, with `env`. An emulated
   * daemon takes longer to start than a client waits for one (it would
   * compile without cache): it is started and waited for first.
   */
  async aarch64Client(dir: string, env: Record<string, string>): Promise<Aarch64Client> {
    const runtimeDir = mkdtempSync(join(this.work, "run-"));
    const full = { ...env, REPRISE_DIR: join(dir, ".cache"), REPRISE_RUNTIME_DIR: runtimeDir, REPRISE_IDLE_TIMEOUT: "600" };
    const reprise = (args: string[]) => inRoot(this.session, [...ROOT_REPRISE, ...args], { cwd: dir, env: full, detached: true });
    await reprise(["--start-server"]);
    for (let i = 0; i < 240 && !existsSync(join(runtimeDir, "daemon.sock")); i++) await new Promise((r) => setTimeout(r, 500));
    const st = await reprise(["--show-stats", "--json"]);
    expect(st.exitCode, `the aarch64 daemon did not start: ${text(st.stderr)}`).toBe(0);
    return Object.assign(reprise, {
      stats: async () => JSON.parse(text((await reprise(["--show-stats", "--json"])).stdout)).stats as StatsJson,
      log: () => {
        try {
          return readFileSync(join(runtimeDir, "daemon.log"), "utf8").slice(-4000);
        } catch {
          return "(no daemon.log)";
        }
      },
    });
  }

  async stop(): Promise<void> {
    await Promise.all([this.x86Builder.kill(), this.armBuilder?.kill()]);
    await this.sched.stop();
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** Job lines a builder logged (debug): "job <id>: <argv0> with toolchain ..., exit status N". */
export const jobsRun = (b: FarmProcess) => (b.output().match(/job [0-9a-f-]+: /g) ?? []).length;

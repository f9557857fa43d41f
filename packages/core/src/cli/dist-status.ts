/** `reprise --dist-status [--json]`: the farm's pools as the scheduler sees them, and this client's own view. */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { DistSettings } from "../config/schema.js";
import type { StatsSnapshot } from "../stats/stats.js";

const STATUS_MODULE = "@reprise/dist/status";

interface FarmStatusModule {
  farmStatus(dist: DistSettings): Promise<
    | { schedulerUrl: string; reachable: true; scheduler: { version?: string; pools: { platform: { arch: string; os: string }; builders: BuilderRow[] }[] } }
    | { schedulerUrl: string; reachable: false; error: string }
  >;
}

interface BuilderRow {
  builderId: string;
  url: string;
  cores: number;
  maxJobs: number;
  runningJobs: number;
  sandboxes?: string[];
  toolchains?: string[];
  /** Toolchains of the builder's own, and the targets each takes jobs for (docs/cross-arch.md). */
  held?: { family: string; version: string; compilerPath: string; targets: { target: string }[] }[];
  /** Rust targets the builder holds or can install. */
  rustTargets?: { target: string; held: boolean }[];
  installable?: string[];
  /** What it can finish besides compiling, e.g. `link:<triple>:<linker identity>` (a Rust crate that links). */
  capabilities?: string[];
  lastHeartbeatMsAgo: number;
  version?: string;
}

/** The client's own counters of the farm, from the daemon's stats (undefined when no daemon answered). */
export function clientView(stats: StatsSnapshot | undefined) {
  if (!stats) return undefined;
  const farm = stats.remote?.farm ?? { compiles: 0, bytesUploaded: 0, roundTrips: 0 };
  const fallbacks = Object.fromEntries(Object.entries(stats.fallbacks ?? {}).filter(([k]) => k.startsWith("dist-")));
  return { remoteCompiles: farm.compiles, bytesUploaded: farm.bytesUploaded, roundTrips: farm.roundTrips, medianRoundTripMs: stats.remoteRoundTripMs ?? null, fallbacks, since: stats.since };
}

export async function distStatus(dist: DistSettings | undefined, stats: StatsSnapshot | undefined, json: boolean): Promise<number> {
  if (!dist) {
    const message = "The build farm is not configured here: set dist.schedulerUrl in config or REPRISE_DIST_SCHEDULER_URL.";
    process.stdout.write(json ? `${JSON.stringify({ configured: false, message }, null, 2)}\n` : `${message}\n`);
    return 1;
  }
  let mod: FarmStatusModule;
  try {
    const url = pathToFileURL(createRequire(import.meta.url).resolve(STATUS_MODULE)).href;
    mod = (await import(url)) as FarmStatusModule;
  } catch {
    process.stderr.write(`reprise: ${STATUS_MODULE} is not installed (npm i @reprise/dist)\n`);
    return 1;
  }
  const farm = await mod.farmStatus(dist);
  const client = clientView(stats);
  if (json) {
    process.stdout.write(`${JSON.stringify({ configured: true, ...farm, client }, null, 2)}\n`);
    return farm.reachable ? 0 : 1;
  }
  const lines = [`Scheduler ${farm.schedulerUrl}: ${farm.reachable ? `reachable${farm.scheduler.version ? ` (version ${farm.scheduler.version})` : ""}` : `not available: ${farm.error}`}`];
  if (farm.reachable) {
    if (!farm.scheduler.pools.length) lines.push("  no builders registered");
    for (const pool of farm.scheduler.pools) {
      lines.push(`  pool ${pool.platform.os}/${pool.platform.arch}: ${pool.builders.length} builder(s)`);
      for (const b of pool.builders) {
        lines.push(
          `    ${b.builderId} ${b.url}  jobs ${b.runningJobs}/${b.maxJobs}, ${b.cores} cores, ${b.toolchains?.length ?? 0} toolchain(s), sandboxes ${(b.sandboxes ?? []).join(",") || "-"}, heartbeat ${(b.lastHeartbeatMsAgo / 1000).toFixed(1)} s ago${b.version ? `, version ${b.version}` : ""}`,
        );
        for (const h of b.held ?? []) {
          lines.push(`      holds ${h.family} ${h.version} at ${h.compilerPath}${h.targets.length ? `, takes jobs for ${h.targets.map((t) => t.target).join(", ")}` : ""}`);
        }
        const rust = b.rustTargets ?? [];
        if (rust.length) {
          const held = rust.filter((t) => t.held).map((t) => t.target);
          const installable = rust.filter((t) => !t.held).map((t) => t.target);
          lines.push(`      rust targets: ${held.length ? `holds ${held.join(", ")}` : "holds none"}${installable.length ? `; can install ${installable.join(", ")}` : ""}`);
        }
        if (b.installable?.length) lines.push(`      installs on demand: ${b.installable.join(", ")} (rustup)`);
        if (b.capabilities?.length) lines.push(`      can also finish: ${b.capabilities.join(", ")}`);
      }
    }
  }
  if (client) {
    lines.push(`This client (since ${client.since}): ${client.remoteCompiles} remote compile(s), ${(client.bytesUploaded / 1024 ** 2).toFixed(1)} MiB uploaded${client.medianRoundTripMs !== null ? `, median round trip ${client.medianRoundTripMs.toFixed(1)} ms` : ""}`);
    for (const [reason, n] of Object.entries(client.fallbacks).sort()) lines.push(`  compiled locally instead: ${reason}: ${n}`);
  } else lines.push("This client: no daemon running");
  process.stdout.write(`${lines.join("\n")}\n`);
  return farm.reachable ? 0 : 1;
}

import { resolve } from "node:path";
import { findExecutable } from "../engine/find-executable.js";
import { reprisesOwnExecutables } from "../daemon/self-paths.js";
import { createEngine } from "../toolchain/create-engine.js";
import { packageCompilerToolchain } from "../toolchain/package.js";
import { inspectToolchainArchive, type InspectedArchive } from "../toolchain/toolchain-archive.js";
import type { Platform } from "../toolchain/types.js";
import { RepriseError } from "../util/errors.js";
import { terminalProgress } from "./progress.js";

/**
 * `reprise --package-toolchain <compiler> <out.tar.gz>` and
 * `reprise toolchain inspect [--json] <archive>`.
 */

export interface CommandIO {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal: progress of long work is shown there only then. */
  stderrIsTTY?: boolean;
  /** Width of that terminal. */
  columns?: number;
}

const processIO = (): CommandIO => ({
  cwd: process.cwd(),
  env: process.env,
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  stderrIsTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns,
});

/** Writes the toolchain archive of `compiler` (a name found on PATH, or a path) to `out`. Returns the exit code. */
export async function packageToolchainCommand(compiler: string | undefined, out: string | undefined, io: CommandIO = processIO(), targets?: string[]): Promise<number> {
  if (!compiler || !out) {
    io.stderr("usage: reprise --package-toolchain <compiler> <out.tar.gz> [--target <triple>]...\n");
    return 2;
  }
  const progress = terminalProgress({ isTTY: io.stderrIsTTY, columns: io.columns, write: io.stderr });
  try {
    const path = findExecutable(compiler, { cwd: io.cwd, pathEnv: io.env.PATH, exclude: reprisesOwnExecutables() });
    if (!path) throw new RepriseError(`cannot package ${compiler}`, "E_NO_COMPILER", "no such executable (on PATH or at that path)");
    progress.step(`reprise: identifying ${path}…`);
    const setup = await createEngine({ cwd: io.cwd, env: io.env });
    const env = Object.fromEntries(Object.entries(io.env).filter((e): e is [string, string] => e[1] !== undefined));
    const info = await setup.detector.detect(path, env);
    if (!info) throw new RepriseError(`cannot package ${path}`, "E_NO_COMPILER", "no plugin recognises it as a compiler");
    const started = performance.now();
    progress.step(`reprise: finding every file ${info.family} ${info.version} runs and loads…`);
    const written = await packageCompilerToolchain(setup.engine, info, resolve(io.cwd, out), {
      described: (d) => progress.step(`reprise: packing ${d.spec.entries.length} entries…`),
      packing: (done, total) => progress.update(`reprise: packing ${formatBytes(done)} of ${formatBytes(total)} (${total ? Math.floor((100 * done) / total) : 100} %)`),
    }, targets?.length ? { targets } : {});
    progress.done();
    const ms = Math.round(performance.now() - started);
    io.stdout(
      `Wrote ${written.path} (${formatBytes(written.archiveBytes)}, ${ms} ms)\n` +
        `  toolchain ${written.id}\n` +
        `  ${written.manifest.family} ${written.manifest.version} at ${written.manifest.compilerPath}, runs on ${written.runsOn.map(formatPlatform).join(", ")}` +
        `${written.manifest.target ? `, targets ${written.manifest.target}` : ""}\n` +
        `  ${written.manifest.files.length} entries, ${formatBytes(written.unpackedBytes)} unpacked\n` +
        (written.manifest.equivalences ?? []).map((e) => `  equivalent for ${e.target}: ${e.equivalence}\n`).join(""),
    );
    return 0;
  } catch (err) {
    progress.done();
    io.stderr(`reprise: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Prints what a toolchain archive holds (checking it the way a builder would). Returns the exit code. */
export async function inspectToolchainCommand(archive: string | undefined, options: { json?: boolean } = {}, io: CommandIO = processIO()): Promise<number> {
  if (!archive) {
    io.stderr("usage: reprise toolchain inspect [--json] <archive>\n");
    return 2;
  }
  let info: InspectedArchive;
  try {
    info = await inspectToolchainArchive(resolve(io.cwd, archive));
  } catch (err) {
    io.stderr(`reprise: ${(err as Error).message}\n`);
    return 1;
  }
  const m = info.manifest;
  if (options.json) {
    io.stdout(
      JSON.stringify(
        {
          id: info.id,
          archiveBytes: info.archiveBytes,
          unpackedBytes: info.unpackedBytes,
          family: m.family,
          version: m.version,
          compilerPath: m.compilerPath,
          identity: m.identity,
          ...(m.target ? { target: m.target } : {}),
          runsOn: m.runsOn,
          files: m.files,
        },
        null,
        2,
      ) + "\n",
    );
    return 0;
  }
  const lines = [
    `id:        ${info.id}`,
    `compiler:  ${m.family} ${m.version} at ${m.compilerPath}`,
    `identity:  ${m.identity}`,
    `runs on:   ${m.runsOn.length ? m.runsOn.map(formatPlatform).join(", ") : "(unknown)"}`,
    `targets:   ${m.target ?? "(unknown)"}`,
    `size:      ${formatBytes(info.archiveBytes)} compressed, ${formatBytes(info.unpackedBytes)} unpacked, ${m.files.length} entries`,
    `files:`,
  ];
  for (const f of m.files) {
    if (f.type === "symlink") lines.push(`  link  ${f.path} -> ${f.linkTarget}`);
    else if (f.type === "directory") lines.push(`  dir   ${f.path}/`);
    else lines.push(`  file  ${f.path}  ${formatBytes(f.size)}${f.role && f.role !== "data" ? `  (${f.role})` : ""}`);
  }
  io.stdout(lines.join("\n") + "\n");
  return 0;
}

/** `reprise toolchain <subcommand> ...`: dispatches `inspect`. */
export async function toolchainCommand(args: string[], io: CommandIO = processIO()): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "inspect") {
    const json = rest.includes("--json");
    const positional = rest.filter((a) => a !== "--json");
    if (positional.length !== 1 || positional[0]!.startsWith("-")) {
      io.stderr("usage: reprise toolchain inspect [--json] <archive>\n");
      return 2;
    }
    return inspectToolchainCommand(positional[0], { json }, io);
  }
  const usage = "usage: reprise toolchain inspect [--json] <archive>\n       reprise --package-toolchain <compiler> <out.tar.gz>\n";
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    io.stdout(usage);
    return 0;
  }
  io.stderr(`reprise: unknown toolchain command "${sub}"\n${usage}`);
  return 2;
}

export function formatPlatform(p: Platform): string {
  return `${p.arch} (${p.os}${p.bits ? `, ${p.bits}-bit` : ""})`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

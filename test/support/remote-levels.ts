import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { LevelStatsSnapshot } from "../../packages/core/src/storage/cache-storage.js";
import type { StatsSnapshot } from "../../packages/core/src/stats/stats.js";
import { plain, text, type RepriseSandbox } from "./reprise-env.js";

/** `--show-stats --json` as a whole: counters plus the storages and their levels. */
export interface StatsReplyJson {
  stats: StatsSnapshot;
  storages: { kind: string; location: string; levels?: LevelStatsSnapshot[] }[];
}

export async function statsReply(sb: RepriseSandbox, cwd: string, env: Record<string, string> = {}): Promise<StatsReplyJson> {
  const r = await sb.run(["--show-stats", "--json"], cwd, { env });
  if (r.exitCode !== 0) throw new Error(`--show-stats failed: ${text(r.stderr)}`);
  return JSON.parse(text(r.stdout)) as StatsReplyJson;
}

/** The levels of the storage a call from `cwd` with `env` uses. */
export async function levelsOf(sb: RepriseSandbox, cwd: string, env: Record<string, string> = {}): Promise<LevelStatsSnapshot[]> {
  const reply = await statsReply(sb, cwd, env);
  const withLevels = reply.storages.filter((s) => s.levels);
  expect(withLevels.length, "one storage made of levels").toBe(1);
  return withLevels[0]!.levels!;
}

/** A small C project: `count` units sharing a header, each distinct. */
export function writeProject(dir: string, count: number, tag = "p"): string[] {
  mkdirSync(join(dir, "include"), { recursive: true });
  writeFileSync(join(dir, "include/shared.h"), "#pragma once\nstatic inline int twice(int x) { return 2 * x; }\n");
  const units: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${tag}${i}.c`;
    writeFileSync(
      join(dir, name),
      `#include <stdio.h>\n#include "shared.h"\nint ${tag}_value_${i}(int a) { int s = 0; for (int k = 0; k < a; k++) s += twice(k) ^ ${i}; return s; }\nvoid ${tag}_print_${i}(void) { printf("%d\\n", ${tag}_value_${i}(${i + 3})); }\n`,
    );
    units.push(name);
  }
  return units;
}

export function compileArgs(unit: string): string[] {
  return ["gcc", "-O2", "-Iinclude", "-c", unit, "-o", unit.replace(/\.c$/, ".o")];
}

/** Objects of plain compiles (no Reprise), by unit. */
export async function plainObjects(dir: string, units: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const u of units) {
    const [cmd, ...args] = compileArgs(u);
    const obj = join(dir, u.replace(/\.c$/, ".o"));
    rmSync(obj, { force: true });
    const r = await plain(cmd!, args, dir);
    expect(r.exitCode, `plain compile of ${u}: ${text(r.stderr)}`).toBe(0);
    out.set(u, readFileSync(obj));
    rmSync(obj, { force: true });
  }
  return out;
}

/**
 * Compiles every unit through `sb` (outputs removed first) and asserts each
 * exits 0 with an object byte-identical to the plain compile's.
 */
export async function buildAndCompare(sb: RepriseSandbox, dir: string, units: string[], reference: Map<string, Buffer>, env: Record<string, string> = {}): Promise<void> {
  for (const u of units) {
    const obj = join(dir, u.replace(/\.c$/, ".o"));
    rmSync(obj, { force: true });
    const r = await sb.run(compileArgs(u), dir, { env });
    expect(r.exitCode, `${u}: ${text(r.stderr)}`).toBe(0);
    expect(readFileSync(obj).equals(reference.get(u)!), `${u}: object byte-identical to a plain compile`).toBe(true);
  }
}

import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { plain, text, type RepriseSandbox } from "./reprise-env.js";

export interface Observed {
  exitCode: number;
  stdout: string;
  stderr: string;
  files: Record<string, Buffer | null>;
}

function collect(cwd: string, files: string[], r: { exitCode?: number; stdout: unknown; stderr: unknown }): Observed {
  const out: Record<string, Buffer | null> = {};
  for (const f of files) out[f] = existsSync(join(cwd, f)) ? readFileSync(join(cwd, f)) : null;
  return { exitCode: r.exitCode ?? -1, stdout: text(r.stdout), stderr: text(r.stderr), files: out };
}

function clean(cwd: string, files: string[]) {
  for (const f of files) rmSync(join(cwd, f), { force: true });
}

/**
 * Runs `argv` plainly, then through Reprise twice (a miss, then a hit),
 * removing the outputs in between, and asserts that all three left the same
 * files byte for byte, the same streams and the same exit status.
 */
export async function expectSameAsPlain(sb: RepriseSandbox, cwd: string, argv: string[], outputs: string[], env: Record<string, string> = {}) {
  clean(cwd, outputs);
  const ref = collect(cwd, outputs, await plain(argv[0]!, argv.slice(1), cwd, env));
  clean(cwd, outputs);
  const first = collect(cwd, outputs, await sb.run(argv, cwd, { env }));
  clean(cwd, outputs);
  const second = collect(cwd, outputs, await sb.run(argv, cwd, { env }));
  for (const [label, got] of [["first call", first], ["second call", second]] as const) {
    expect(got.exitCode, `${label} exit status`).toBe(ref.exitCode);
    expect(got.stdout, `${label} stdout`).toBe(ref.stdout);
    expect(got.stderr, `${label} stderr`).toBe(ref.stderr);
    for (const f of outputs) {
      const a = ref.files[f];
      const b = got.files[f];
      expect(b === null, `${label}: ${f} exists as with a plain compile`).toBe(a === null);
      if (a && b) expect(a.equals(b), `${label}: ${f} is byte-identical to a plain compile`).toBe(true);
    }
  }
  return { ref, first, second };
}

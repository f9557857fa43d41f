import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { clientCommand, plain, text, type ClientKind, type RepriseSandbox } from "./reprise-env.js";

/**
 * The outputs of a plain `make -j<jobs>` of a project (the reference), the
 * project cleaned again afterwards: a build through Reprise must then leave
 * the same files, byte for byte.
 */
export class PlainMakeReference {
  private constructor(
    private readonly dir: string,
    private readonly reference: Map<string, Buffer>,
  ) {}

  static async build(dir: string, outputs: string[], jobs: number): Promise<PlainMakeReference> {
    const r = await plain("make", [`-j${jobs}`], dir);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    const reference = new PlainMakeReference(dir, readOutputs(dir, outputs));
    await plain("make", ["clean"], dir);
    return reference;
  }

  /** Expects every output file, as it is now, to equal the plain build's (`when` says which build, in messages). */
  expectSame(when?: string): void {
    const suffix = when ? ` (${when})` : "";
    for (const [file, data] of readOutputs(this.dir, [...this.reference.keys()])) {
      expect(data.equals(this.reference.get(file)!), `${file} byte-identical to the plain build${suffix}`).toBe(true);
    }
  }
}

function readOutputs(dir: string, outputs: string[]): Map<string, Buffer> {
  return new Map(outputs.map((o) => [o, readFileSync(join(dir, o))]));
}

/** `make -j<jobs> [targets]` in `dir` with CC and CXX through `client`'s sandbox (its environment, `env` over it). */
export function makeThroughReprise(sb: RepriseSandbox, dir: string, jobs: number, env: Record<string, string>, targets: string[] = [], client: ClientKind = "native") {
  const launcher = clientCommand(client).join(" ");
  return plain("make", [`-j${jobs}`, `CC=${launcher} gcc`, `CXX=${launcher} g++`, ...targets], dir, sb.env(env));
}

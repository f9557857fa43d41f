/** What a builder's toolchain provider gives back: a Rust toolchain ready to run a job. */
import type { ToolchainSpec } from "@reprise/core";

/** The interface `@reprise/dist`'s builder calls (structural: dist defines the same shape). */
export interface ProvidedToolchain {
  /** The files the job's sandbox needs (rustc, its libraries, the target's std), packed into the builder's store. */
  spec: ToolchainSpec;
  /** The job's argv with argv[0] (the client's path) kept and an explicit `--target` added. */
  adaptArgv(argv: readonly string[]): string[];
  /** Variables the program needs (a distribution's rustc finds librustc_driver through LD_LIBRARY_PATH). */
  env: Record<string, string>;
  /** Where the program is inside the sandbox: argv[0] is linked to it. */
  program: string;
}

/** Why a descriptor cannot be provided: the client compiles locally with `reason` counted. */
export class ProvideError extends Error {
  constructor(
    readonly reason: "unreachable" | "not-offered" | "mismatch" | "install-failed" | "timeout",
    message: string,
  ) {
    super(message);
    this.name = "ProvideError";
  }
}

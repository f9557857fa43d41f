import { RepriseError } from "../util/errors.js";

/** Packaging a toolchain failed (a file the compiler needs cannot be found, no plugin knows the compiler, ...). */
export class ToolchainError extends RepriseError {
  constructor(message: string, reason?: string) {
    super(message, "E_TOOLCHAIN", reason);
    this.name = "ToolchainError";
  }
}

/** A toolchain archive was refused or is unreadable; `entry` names the archive member at fault, when there is one. */
export class ToolchainArchiveError extends RepriseError {
  constructor(
    readonly archive: string,
    readonly entry: string | undefined,
    reason: string,
  ) {
    super(entry === undefined ? `toolchain archive ${archive}` : `toolchain archive ${archive}: entry "${entry}"`, "E_TOOLCHAIN_ARCHIVE", reason);
    this.name = "ToolchainArchiveError";
  }
}

/** A job whose files cannot be laid out in a sandbox (conflicting paths, a path the sandbox reserves). */
export class LayoutError extends Error {
  override readonly name = "LayoutError";
}

/** The sandbox itself failed (its tool is missing or refused the job), as opposed to the job's program failing. */
export class SandboxError extends Error {
  override readonly name = "SandboxError";
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(detail ? `${message}: ${detail}` : message);
  }
}

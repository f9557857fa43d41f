import { RepriseError } from "@reprise/core/errors";

/** A command that cannot start (or cannot do its job) says why in one line on stderr and exits 2. */
export function failOneLine(what: string, error: unknown): never {
  const message = error instanceof RepriseError || (error instanceof Error && error.name === "Error") ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`reprise-dist ${what}: ${message.split("\n")[0]}\n`);
  process.exit(2);
}

import { RepriseError } from "@reprise/core/errors";

/** A command that cannot start says why in one line on stderr and exits 2. */
export function failOneLine(command: string, error: unknown): never {
  const message = error instanceof RepriseError ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`reprise-dist ${command}: cannot start: ${message.split("\n")[0]}\n`);
  process.exit(2);
}

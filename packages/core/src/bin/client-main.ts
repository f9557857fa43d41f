// The `reprise` command. On the compiler-call path only the thin client is
// loaded; administrative commands are imported lazily.
import { basename } from "node:path";
import { runCompilerCall } from "../client/client.js";

// The sh launcher (bin/reprise) sets REPRISE_MASQUERADE when it was started as a compiler link.
const masqueradeAs = process.env.REPRISE_MASQUERADE || undefined;
const invokedAs = masqueradeAs ?? process.argv[1] ?? "reprise";
const args = process.argv.slice(2);
const self = basename(invokedAs).replace(/\.(c|m)?js$/, "");
const masquerading = self !== "reprise" && self !== "reprise-native";
const ADMIN_COMMANDS = new Set(["install-native", "toolchain", "link-compilers"]);

async function main(): Promise<number> {
  if (masqueradeAs) delete process.env.REPRISE_MASQUERADE;
  if (masquerading) return runCompilerCall([basename(invokedAs), ...args], invokedAs);
  if (args.length === 0 || args[0]!.startsWith("-") || ADMIN_COMMANDS.has(args[0]!)) {
    const { runCommand } = await import("../cli/commands.js");
    return runCommand(args);
  }
  return runCompilerCall(args, undefined);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`reprise: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);

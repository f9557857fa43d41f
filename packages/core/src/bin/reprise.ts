#!/usr/bin/env node
// The `reprise` command. On the compiler-call path only the thin client is
// loaded; administrative commands are imported lazily.
import { basename } from "node:path";
import { runCompilerCall } from "../client/client.js";

const invokedAs = process.argv[1] ?? "reprise";
const args = process.argv.slice(2);
const self = basename(invokedAs).replace(/\.(c|m)?js$/, "");
const masquerading = self !== "reprise";

async function main(): Promise<number> {
  if (masquerading) return runCompilerCall([basename(invokedAs), ...args], invokedAs);
  if (args.length === 0 || args[0]!.startsWith("-")) {
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

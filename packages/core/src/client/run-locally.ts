import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { dirname } from "node:path";
import { findExecutable } from "../engine/find-executable.js";
import { reprisesOwnExecutables } from "../daemon/self-paths.js";

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Runs the real compiler in this process's place, with the terminal and stdin
 * of the build: what a build gets when Reprise is not caching this call.
 * The compiler is found from the client's own argv and PATH (past Reprise's
 * own executables and the masquerade link's directory), never taken from
 * the daemon: whatever listens on the socket must not choose what runs.
 */
export function runLocally(argv: string[], masqueradeAs: string | undefined): Promise<number> {
  const name = argv[0] ?? "";
  const self = reprisesOwnExecutables(process.argv[1] ? [process.argv[1]] : []);
  const exe = findExecutable(name, { cwd: process.cwd(), pathEnv: process.env.PATH, exclude: self, skipDir: masqueradeAs ? dirname(masqueradeAs) : undefined });
  if (!exe) {
    process.stderr.write(`reprise: cannot find compiler "${name}" on PATH\n`);
    return Promise.resolve(127);
  }
  // gcc finds cc1 from argv[0]: keep the user's name only where PATH leads to this very compiler
  // (behind a masquerading link it leads back to Reprise).
  const first = name.includes("/") ? undefined : findExecutable(name, { cwd: process.cwd(), pathEnv: process.env.PATH, exclude: new Set() });
  const argv0 = name.includes("/") || (first && real(first) === real(exe)) ? name : exe;
  return new Promise((resolve) => {
    const child = spawn(exe, argv.slice(1), { stdio: "inherit", argv0 });
    child.on("error", (err) => {
      process.stderr.write(`reprise: cannot run ${exe}: ${err.message}\n`);
      resolve(127);
    });
    child.on("exit", (code, signal) => {
      if (signal) {
        process.kill(process.pid, signal);
        resolve(128);
      } else resolve(code ?? 1);
    });
  });
}

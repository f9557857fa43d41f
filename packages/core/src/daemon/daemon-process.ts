// What the daemon process runs (bundled into dist/bundle/daemon.cjs with the
// whole of core; entry.ts loads that script and calls this).
import { startDaemon } from "./main.js";

export function runDaemonProcess(): void {
  startDaemon().then(
    (server) => {
      if (!server) process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`reprise daemon: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}

// What the daemon process runs (bundled into dist/bundle/daemon.js; entry.ts starts it).
import { startDaemon } from "./main.js";

startDaemon().then(
  (server) => {
    if (!server) process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`reprise daemon: ${(err as Error).message}\n`);
    process.exit(1);
  },
);

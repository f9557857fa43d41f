#!/usr/bin/env node
// Process entry of the background daemon, spawned detached by the client.
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

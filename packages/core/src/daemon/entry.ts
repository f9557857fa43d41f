#!/usr/bin/env node
// Process entry of the background daemon, spawned detached by the client. It
// runs the bundle (dist/bundle/daemon.js, made by scripts/bundle.mjs from
// daemon-process.ts): the same modules `@reprise/core` resolves to, so the
// plugins it loads share one copy of core with it.
await import(new URL("../bundle/daemon.js", import.meta.url).href);

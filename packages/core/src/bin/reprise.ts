#!/usr/bin/env node
// The `reprise` Node client. It runs the bundle (dist/bundle/client.js, made by
// scripts/bundle.mjs from client-main.ts): the same modules `@reprise/core`
// resolves to, so plugins loaded in this process share one copy of core.
await import(new URL("../bundle/client.js", import.meta.url).href);

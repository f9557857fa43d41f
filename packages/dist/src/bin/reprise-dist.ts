#!/usr/bin/env node
// reprise-dist: `scheduler`, `builder` and `local-farm` commands (see docs/dist-design.md).
process.stderr.write("reprise-dist: no command is available in this build yet\n");
process.exitCode = 2;

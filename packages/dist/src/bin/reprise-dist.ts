#!/usr/bin/env node
// reprise-dist: `scheduler`, `builder` and `local-farm` commands (see docs/dist-design.md).
import { Command } from "commander";
import { addSchedulerCommand } from "../cli/scheduler-command.js";
import { addTokenCommands } from "../cli/token-commands.js";
import { DIST_VERSION } from "../version.js";

const program = new Command("reprise-dist").description("Reprise build farm").version(DIST_VERSION);
addSchedulerCommand(program);
addTokenCommands(program);
await program.parseAsync(process.argv);

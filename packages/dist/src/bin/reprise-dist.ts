#!/usr/bin/env node
// reprise-dist: `scheduler`, `builder` and `local-farm` commands (see docs/dist-design.md).
import { Command } from "commander";
import { addSchedulerCommand } from "../cli/scheduler-command.js";
import { addTokenCommands } from "../cli/token-commands.js";
import { addBuilderCommand } from "../cli/builder-command.js";
import { addLocalFarmCommand } from "../cli/local-farm.js";
import { DIST_VERSION } from "../version.js";

const program = new Command("reprise-dist").description("Reprise build farm").version(DIST_VERSION);
addSchedulerCommand(program);
addBuilderCommand(program);
addLocalFarmCommand(program);
addTokenCommands(program);
await program.parseAsync(process.argv);

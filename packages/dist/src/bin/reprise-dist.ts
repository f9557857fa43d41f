#!/usr/bin/env node
// reprise-dist: `scheduler`, `builder` and `local-farm` commands (see docs/dist-design.md).
import { Command } from "commander";
import { REPRISE_VERSION } from "@reprise/core";
import { addBuilderCommand } from "../cli/builder-command.js";
import { addLocalFarmCommand } from "../cli/local-farm.js";

const program = new Command("reprise-dist").description("Reprise build farm").version(REPRISE_VERSION);
addBuilderCommand(program);
addLocalFarmCommand(program);
await program.parseAsync(process.argv);

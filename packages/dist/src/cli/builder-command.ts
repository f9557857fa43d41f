/** `reprise-dist builder [--config F]`: runs a builder in the foreground until SIGINT/SIGTERM. */
import type { Command } from "commander";
import { BuilderConfigError, loadBuilderConfigFile, resolveBuilderConfig } from "../builder/config.js";
import { BuilderStartError, startBuilder } from "../builder/builder.js";

export function addBuilderCommand(program: Command): void {
  program
    .command("builder")
    .description("run a sandboxed builder that takes jobs from a scheduler (see docs/dist-builder.md)")
    .option("-c, --config <file>", "builder config file (JSON)")
    .option("--scheduler <url>", "scheduler URL (overrides the config; or REPRISE_DIST_SCHEDULER_URL)")
    .option("--port <n>", "port to listen on (overrides the config)")
    .action(async (opts: { config?: string; scheduler?: string; port?: string }) => {
      try {
        const overrides = { ...(opts.scheduler ? { schedulerUrl: opts.scheduler } : {}) };
        let config = opts.config ? loadBuilderConfigFile(opts.config) : resolveBuilderConfig(overrides, process.cwd());
        if (opts.scheduler) config = { ...config, schedulerUrl: opts.scheduler };
        if (opts.port) config = { ...config, listen: { ...config.listen, port: Number(opts.port) } };
        const builder = await startBuilder(config);
        // The one line a supervisor (or local-farm) reads to know where the builder is.
        process.stdout.write(`builder ${builder.builderId} listening at ${builder.url}\n`);
        const stop = () => void builder.stop().then(() => process.exit(0));
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      } catch (err) {
        if (err instanceof BuilderStartError || err instanceof BuilderConfigError) {
          process.stderr.write(`reprise-dist builder: cannot start: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
    });
}

/** `reprise-dist builder [--config F]`: runs a builder in the foreground until SIGINT/SIGTERM. */
import type { Command } from "commander";

export function addBuilderCommand(program: Command): void {
  program
    .command("builder")
    .description("run a sandboxed builder that takes jobs from a scheduler (see docs/dist-builder.md)")
    .option("-c, --config <file>", "builder config file (JSON)")
    .option("--scheduler <url>", "scheduler URL (overrides the config; or REPRISE_DIST_SCHEDULER_URL)")
    .option("--port <n>", "port to listen on (overrides the config)")
    .action(async (opts: { config?: string; scheduler?: string; port?: string }) => {
      // Loaded here, not with the command line: `reprise-dist scheduler` (on a 32-bit ARM board, old Node) never loads the builder.
      const { BuilderConfigError, loadBuilderConfigFile, resolveBuilderConfig } = await import("../builder/config.js");
      const { BuilderStartError, startBuilder } = await import("../builder/builder.js");
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

/** `reprise-dist scheduler [--config F] [--listen host:port]`: runs in the foreground until SIGINT/SIGTERM. */
import type { Command } from "commander";
import { loadSchedulerConfig } from "../scheduler/config.js";
import { startScheduler } from "../scheduler/start.js";
import { failOneLine } from "./fail.js";

export function addSchedulerCommand(program: Command): void {
  program
    .command("scheduler")
    .description("run the farm's scheduler (Node >= 20.11; see docs/dist-design.md)")
    .option("-c, --config <file>", "config file (JSON or YAML); default: REPRISE_DIST_CONFIG or reprise-dist.config.* here")
    .option("-l, --listen <host:port>", "address to listen on (default 127.0.0.1:7420)")
    .action(async (options: { config?: string; listen?: string }) => {
      try {
        const config = await loadSchedulerConfig({ configPath: options.config, listen: options.listen });
        const running = await startScheduler(config);
        process.stdout.write(`reprise-dist scheduler listening on ${running.url}\n`);
        const stop = () => void running.close().then(() => process.exit(0));
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      } catch (error) {
        failOneLine("scheduler: cannot start", error);
      }
    });
}

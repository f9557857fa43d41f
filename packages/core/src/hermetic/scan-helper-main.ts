import { runCompiler } from "../engine/run-compiler.js";
import type { ScanReply, ScanRequest } from "./scan-helper.js";

/**
 * The scan helper's process (see scan-helper.ts): runs each closure scan it
 * is sent and answers with its exit status and the start of its stderr.
 * Ends with its parent (the IPC channel closes).
 */
const STDERR_KEPT = 64 * 1024;

process.on("message", (message: ScanRequest) => {
  void runCompiler(message.argv, message.cwd, message.env, { stdout: false }).then((run) => {
    const reply: ScanReply = { id: message.id, exitCode: run.exitCode, stderr: run.stderr.subarray(0, STDERR_KEPT).toString("utf8") };
    process.send?.(reply);
  });
});
process.on("disconnect", () => process.exit(0));

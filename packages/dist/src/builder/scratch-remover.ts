/** Removing directory trees on a worker thread: their `rmdir`s may block in the kernel, and must not block the event loop. */
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { removeSmallTree } from "@reprise/core/sandbox-kit";

/** The worker: removes each batch of directories it is sent (in order) and answers with its thread's id. */
const WORKER_SOURCE = `
const { parentPort, threadId, workerData } = require("node:worker_threads");
const { rmSync } = require("node:fs");
import(workerData).then(({ removeSmallTree }) => {
  parentPort.on("message", (dirs) => {
    for (const dir of dirs) {
      try {
        if (!removeSmallTree(dir)) rmSync(dir, { recursive: true, force: true });
      } catch {}
    }
    parentPort.postMessage(threadId);
  });
});
`;

/** Removes `dir` and everything below it on this thread (the worker's fallback). */
export function removeTree(dir: string): void {
  try {
    if (!removeSmallTree(dir)) rmSync(dir, { recursive: true, force: true });
  } catch {
    // gone already, or changed meanwhile
  }
}

/**
 * One worker thread removes what it is given, batch after batch. When the
 * worker cannot start or ends, the trees it had not removed are removed on
 * the calling thread (`fellBack` counts them).
 */
export class ScratchRemover {
  private worker: Worker | undefined;
  private readonly inFlight: string[][] = [];
  private idle: (() => void)[] = [];
  /** Trees removed on the calling thread because the worker could not run. */
  fellBack = 0;
  /** The thread that removed the last batch (0: the main thread). */
  lastThreadId: number | undefined;

  remove(dirs: string[]): void {
    if (!dirs.length) return;
    const worker = this.start();
    if (!worker) return this.removeHere(dirs);
    this.inFlight.push(dirs);
    worker.ref(); // the process waits for the trees it was asked to remove
    worker.postMessage(dirs);
  }

  /** Resolves once every tree given so far is removed, then ends the worker. */
  async close(): Promise<void> {
    if (this.inFlight.length) await new Promise<void>((resolve) => this.idle.push(resolve));
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private start(): Worker | undefined {
    if (this.worker) return this.worker;
    let kitUrl: string;
    try {
      kitUrl = pathToFileURL(createRequire(import.meta.url).resolve("@reprise/core/sandbox-kit")).href;
    } catch {
      return undefined;
    }
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: kitUrl, stdout: false, stderr: false });
    worker.unref();
    worker.on("message", (threadId: number) => {
      this.inFlight.shift();
      this.lastThreadId = threadId;
      if (this.inFlight.length) return;
      worker.unref();
      for (const resolve of this.idle.splice(0)) resolve();
    });
    worker.on("error", () => this.lost(worker));
    worker.on("exit", () => this.lost(worker));
    this.worker = worker;
    return worker;
  }

  /** The worker ended: what it had not removed yet is removed here. */
  private lost(worker: Worker): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const dirs of this.inFlight.splice(0)) this.removeHere(dirs);
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private removeHere(dirs: string[]): void {
    for (const dir of dirs) removeTree(dir);
    this.fellBack += dirs.length;
    this.lastThreadId = 0;
  }
}

import { unlinkSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { probeSocket } from "../util/socket-probe.js";

/**
 * One daemon per runtime directory. The lock is a listening Unix socket at
 * `path`, not a file naming a pid: a listening socket is a descriptor of the
 * process, and the kernel closes it when the process ends, however it ends
 * (SIGKILL included, before it is even a zombie). A connect() to a socket
 * nobody listens on is refused at once, so a stale lock is told from a live
 * one without trusting a pid that may be a zombie or reused.
 *
 *   bind → EADDRINUSE → connect: accepted → held by a live daemon
 *                                refused  → stale (or a file of an older version): unlink, bind again
 *
 * A holder then connects to the path itself: if that connection does not
 * reach its own listener, a concurrent starter replaced the path, and the
 * holder gives way.
 */
export class DaemonLock {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async acquire(path: string): Promise<DaemonLock | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = await listenOn(path);
      if (server) {
        if (await reachesItself(server, path)) return new DaemonLock(server, path);
        server.close();
        return undefined;
      }
      if (await answers(path)) return undefined;
      try {
        unlinkSync(path);
      } catch {
        // another starter removed it first
      }
    }
    return undefined;
  }

  release(): void {
    // Closing a listening Unix socket also removes its path (libuv unlinks it).
    this.server.close();
  }
}

function listenOn(path: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer((s) => s.destroy());
    server.once("error", () => resolve(undefined));
    server.listen(path, () => {
      server.removeAllListeners("error");
      server.on("error", () => {});
      server.unref();
      resolve(server);
    });
  });
}

/** Whether a live process accepts connections on `path` (a refused or missing socket: no). */
function answers(path: string): Promise<boolean> {
  return probeSocket(path, {
    timeoutMs: 2000,
    // A full backlog means a live, busy holder.
    whenSilent: true,
    whenFailed: (err) => err.code !== "ECONNREFUSED" && err.code !== "ENOENT" && err.code !== "ENOTSOCK",
  });
}

/** Whether a connection to `path` arrives at `server` (and not at a listener that replaced the path). */
function reachesItself(server: Server, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (v: boolean) => {
      clearTimeout(timer);
      server.off("connection", onConnection);
      socket.destroy();
      resolve(v);
    };
    const onConnection = () => done(true);
    server.on("connection", onConnection);
    const timer = setTimeout(() => done(false), 1000);
    socket.on("error", () => done(false));
  });
}

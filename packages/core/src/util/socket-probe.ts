import { connect } from "node:net";

/** How one connection attempt to a Unix socket is read. */
export interface SocketProbe {
  /** Most milliseconds to wait for the connect to settle. */
  timeoutMs: number;
  /** The answer when it has not settled by then. */
  whenSilent: boolean;
  /** The answer for a failed connect; unset: no. */
  whenFailed?: (err: NodeJS.ErrnoException) => boolean;
}

/**
 * Connects to `path`, sends nothing and hangs up: true once the connection is
 * accepted, otherwise what `probe` says a silence or a failure means.
 * Loaded by the client: node:net only.
 */
export function probeSocket(path: string, probe: SocketProbe): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (v: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(probe.whenSilent), probe.timeoutMs);
    socket.on("connect", () => done(true));
    socket.on("error", (err: NodeJS.ErrnoException) => done(probe.whenFailed?.(err) ?? false));
  });
}

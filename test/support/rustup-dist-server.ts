/**
 * A rustup distribution server on loopback, serving the tree
 * scripts/setup-rustup-dist.sh builds (cached between runs): a plain static
 * file server that logs every path asked for. `silent()` makes it accept
 * connections and never answer (rustup then hangs without an outer timeout).
 */
import { createReadStream, statSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import { execFileSync } from "node:child_process";
import { join, normalize } from "node:path";
import type { Socket } from "node:net";
import { REPO_ROOT } from "./reprise-env.js";

/** Builds (once, cached under ~/.cache/reprise-fixtures) and returns the dist tree's directory. */
export function rustupDistTree(): string {
  const out = execFileSync("bash", [join(REPO_ROOT, "scripts/setup-rustup-dist.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 600_000 });
  const m = /^dist (.+)$/m.exec(out);
  if (!m) throw new Error(`scripts/setup-rustup-dist.sh printed no "dist <dir>":\n${out}`);
  return m[1]!;
}

export interface DistServer {
  url: string;
  port: number;
  requests: string[];
  /** From now on, accept connections and never answer. */
  silent(): void;
  close(): Promise<void>;
}

export async function startDistServer(root: string): Promise<DistServer> {
  const requests: string[] = [];
  let silent = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push(path);
    if (silent) return;
    const file = join(root, normalize(path).replace(/^(\.\.[/\\])+/, ""));
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-length": st.size });
    createReadStream(file).pipe(res);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    silent: () => void (silent = true),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

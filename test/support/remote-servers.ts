import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDebianPackages } from "./sandbox-engines.js";

/**
 * Real cache servers on loopback for the remote-level tests: each started on
 * its own free port with its own temp dir, stopped by `stop()`. A missing
 * server binary fails the test with the package to install.
 */
export interface RunningServer {
  port: number;
  /** The value of the backend's REPRISE_* endpoint variable. */
  endpoint: string;
  /** Kills the server process (as a crash would, SIGKILL) and waits for it to be gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Installs the server's Debian package when it is missing (the tests run rather than skip). */
function need(bin: string, pkg: string): void {
  if (!existsSync(bin)) ensureDebianPackages([pkg]);
  if (!existsSync(bin)) throw new Error(`${bin} is missing after installing ${pkg}`);
}

/** Resolves once something accepts TCP connections on the port. */
async function waitForPort(port: number, what: string, child?: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function processServer(child: ChildProcess, port: number, endpoint: string, dir: string): RunningServer {
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await gone;
  };
  return {
    port,
    endpoint,
    kill,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** On `port` when given (to bring a killed server back where clients expect it). */
export async function startRedis(port?: number): Promise<RunningServer> {
  need("/usr/bin/redis-server", "redis-server");
  const dir = mkdtempSync(join(tmpdir(), "reprise-redis-"));
  port ??= await freePort();
  const child = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
  await waitForPort(port, "redis-server", child);
  return processServer(child, port, `redis://127.0.0.1:${port}`, dir);
}

export async function startMemcached(itemSize = "1m"): Promise<RunningServer> {
  need("/usr/bin/memcached", "memcached");
  const dir = mkdtempSync(join(tmpdir(), "reprise-memcached-"));
  const port = await freePort();
  const child = spawn("/usr/bin/memcached", ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", "-I", itemSize, "-u", "root"], { stdio: "ignore" });
  await waitForPort(port, "memcached", child);
  return processServer(child, port, `127.0.0.1:${port}`, dir);
}

/** nginx with its WebDAV module: PUT/DELETE/MKCOL under a temp root, everything else in the temp dir too. */
export async function startNginxDav(o: { createFullPutPath?: boolean; token?: string } = {}): Promise<RunningServer & { root: string }> {
  need("/usr/sbin/nginx", "nginx");
  const dir = mkdtempSync(join(tmpdir(), "reprise-nginx-"));
  const root = join(dir, "data");
  mkdirSync(join(root, "cache"), { recursive: true });
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `daemon off;
master_process off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / {
      ${o.token ? `if ($http_authorization != "Bearer ${o.token}") { return 401; }` : ""}
      dav_methods PUT DELETE MKCOL;
      create_full_put_path ${o.createFullPutPath === false ? "off" : "on"};
      dav_access user:rw;
    }
  }
}
`,
  );
  const child = spawn("/usr/sbin/nginx", ["-c", conf, "-p", dir, "-e", `${dir}/error.log`], { stdio: "ignore" });
  await waitForPort(port, "nginx", child);
  return { ...processServer(child, port, `http://127.0.0.1:${port}/cache/`, dir), root: join(root, "cache") };
}

/** s3rver (npm, a devDependency) in a child process, with one bucket; credentials S3RVER/S3RVER. */
export async function startS3(bucket: string): Promise<RunningServer & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "reprise-s3-"));
  const port = await freePort();
  const script = `
    const S3rver = require("s3rver");
    new S3rver({ port: ${port}, address: "127.0.0.1", silent: true, directory: ${JSON.stringify(join(dir, "data"))}, configureBuckets: [{ name: ${JSON.stringify(bucket)} }] })
      .run().catch((e) => { console.error(e); process.exit(1); });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: "ignore", cwd: join(import.meta.dirname, "../..") });
  await waitForPort(port, "s3rver", child);
  return { ...processServer(child, port, `http://127.0.0.1:${port}`, dir), dir: join(dir, "data") };
}

/** Environment that points S3 credentials at s3rver's fixed ones (the SDK's standard chain reads them). */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" };

/**
 * A TCP proxy on loopback that forwards to `target` but holds every chunk
 * for `delayMs` in both directions: a slow server as a build sees it.
 */
export async function startSlowProxy(target: number, delayMs: number): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    sockets.add(client).add(upstream);
    const relay = (from: Socket, to: Socket) =>
      from.on("data", (chunk) => {
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, delayMs);
      });
    relay(client, upstream);
    relay(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

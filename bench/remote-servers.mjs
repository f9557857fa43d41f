// Cache servers on loopback for the remote-level benchmark: redis-server,
// memcached and nginx (WebDAV) from Debian's packages, s3rver from npm. Each
// on a free port with its own temp dir; `stop()` kills it and removes the dir.
// (test/support/remote-servers.ts starts the same servers for the tests.)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, what, child, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(what, bin, args, port, dir, endpoint, extra = {}) {
  if (bin.startsWith('/') && !fs.existsSync(bin)) throw new Error(`${bin} is missing (apt-get install ${what})`);
  const child = spawn(bin, args, { stdio: 'ignore', cwd: REPO });
  await waitForPort(port, what, child);
  const gone = new Promise((r) => child.once('exit', r));
  return {
    port, endpoint, ...extra,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await gone;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-bench-redis-'));
  const port = await freePort();
  return start('redis-server', '/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], port, dir, `redis://127.0.0.1:${port}`);
}

export async function startMemcached() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-bench-memcached-'));
  const port = await freePort();
  return start('memcached', '/usr/bin/memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '256', '-u', 'root'], port, dir, `127.0.0.1:${port}`);
}

export async function startNginxDav() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-bench-nginx-'));
  const root = path.join(dir, 'data');
  fs.mkdirSync(path.join(root, 'cache'), { recursive: true });
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d));
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `daemon off;
master_process off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
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
      dav_methods PUT DELETE MKCOL;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
}
`);
  return start('nginx', '/usr/sbin/nginx', ['-c', conf, '-p', dir, '-e', `${dir}/error.log`], port, dir, `http://127.0.0.1:${port}/cache/`);
}

export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export async function startS3(bucket) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-bench-s3-'));
  const port = await freePort();
  const script = `const S3rver = require("s3rver");
new S3rver({ port: ${port}, address: "127.0.0.1", silent: true, directory: ${JSON.stringify(path.join(dir, 'data'))}, configureBuckets: [{ name: ${JSON.stringify(bucket)} }] })
  .run().catch((e) => { console.error(e); process.exit(1); });`;
  return start('s3rver', process.execPath, ['-e', script], port, dir, `http://127.0.0.1:${port}`);
}

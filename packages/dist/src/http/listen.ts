/** Starts a Node http or https server for a farm component and says where it listens. */
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFile } from "node:fs/promises";
import { ConfigError } from "@reprise/core/errors";

export interface TlsFiles {
  /** PEM certificate chain of this server. */
  cert: string;
  /** PEM private key of this server. */
  key: string;
  /** PEM CA bundle whose client certificates are accepted (with `requestClientCert`). */
  ca?: string;
  requestClientCert?: boolean;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "host:port", "[v6]:port" or ":port". */
export function parseListen(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`cannot listen on ${JSON.stringify(value)}`, "expected host:port, e.g. 0.0.0.0:7420");
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read the TLS ${what} ${path}`, (error as NodeJS.ErrnoException).code ?? String(error));
  }
}

export async function createFarmServer(handler: RequestListener, tls?: TlsFiles): Promise<Server> {
  let server: Server;
  if (tls) {
    // One after another: a start-up error names the same file every time (the first missing, in this order).
    const cert = await readPem(tls.cert, "certificate");
    const key = await readPem(tls.key, "key");
    const ca = tls.ca ? await readPem(tls.ca, "CA") : undefined;
    try {
      server = createHttpsServer({ cert, key, ca, requestCert: tls.requestClientCert ?? false, rejectUnauthorized: tls.requestClientCert ?? false }, handler);
    } catch (error) {
      throw new ConfigError("cannot use the TLS certificate and key", error instanceof Error ? error.message : String(error));
    }
  } else {
    server = createHttpServer(handler);
  }
  // Clients keep connections to the scheduler open between allocations.
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  return server;
}

/** Listens, or fails with one line saying why (address in use, permission, bad address). */
export function listen(server: Server, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "the address is already in use" : error.code === "EACCES" ? "permission denied" : error.code === "EADDRNOTAVAIL" ? "no such local address" : error.message;
      reject(new ConfigError(`cannot listen on ${address.host}:${address.port}`, why));
    };
    server.once("error", onError);
    server.listen(address.port, address.host, () => {
      server.off("error", onError);
      const bound = server.address();
      resolve(typeof bound === "object" && bound ? { host: address.host, port: bound.port } : address);
    });
  });
}

/** The URL a bound server is reachable at (IPv6 hosts bracketed). */
export function serverUrl(address: ListenAddress, tls: boolean): string {
  const host = address.host === "0.0.0.0" ? "127.0.0.1" : address.host === "::" ? "[::1]" : address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${tls ? "https" : "http"}://${host}:${address.port}`;
}

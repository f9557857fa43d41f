import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP proxy on loopback in front of a real builder, which breaks
 * what passes through it on demand: job results (protocol/job-result.ts)
 * whose object has one byte changed (framing intact, wrong bytes) or is cut
 * short (a complete HTTP answer whose frame lacks its last bytes), and
 * uploads (blob or toolchain PUTs) cut off mid-request. Everything else
 * passes unchanged.
 */
export interface FaultProxy {
  url: string;
  port: number;
  /** Where requests go (the builder's own address), set once it listens. */
  target?: URL;
  /** Alter a successful job result: always, once per output path, or never. */
  corruptResults: "always" | "first-per-output" | "never";
  /** How a result is altered: one byte of the object flipped, or the object's last bytes cut off. */
  resultFault: "flip" | "truncate";
  dropUploads: boolean;
  readonly counts: { results: number; corrupted: number; uploadsDropped: number };
  close(): Promise<void>;
}

export async function startFaultProxy(): Promise<FaultProxy> {
  const seenOutputs = new Set<string>();
  let server: Server;
  const proxy: FaultProxy = {
    url: "",
    port: 0,
    corruptResults: "never",
    resultFault: "flip",
    dropUploads: false,
    counts: { results: 0, corrupted: 0, uploadsDropped: 0 },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  server = createServer((req, res) => {
    if (!proxy.target) {
      res.writeHead(502).end();
      return;
    }
    if (proxy.dropUploads && req.method === "PUT") {
      proxy.counts.uploadsDropped++;
      req.socket.destroy();
      return;
    }
    const upstream = httpRequest(
      { host: proxy.target.hostname, port: proxy.target.port, method: req.method, path: req.url, headers: req.headers },
      (answer: IncomingMessage) => {
        const isResult = req.method === "POST" && /\/run$/.test(req.url ?? "") && answer.statusCode === 200;
        if (!isResult) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          proxy.counts.results++;
          let body = Buffer.concat(chunks);
          const out = firstOutput(body);
          const corrupt = out !== undefined && (proxy.corruptResults === "always" || (proxy.corruptResults === "first-per-output" && !seenOutputs.has(out.path)));
          if (out) seenOutputs.add(out.path);
          if (corrupt) {
            if (proxy.resultFault === "flip") body[out.offset + (out.size >> 1)]! ^= 0x01;
            else body = body.subarray(0, body.length - Math.min(16, out.size >> 1));
            proxy.counts.corrupted++;
          }
          res.writeHead(200, { "content-type": String(answer.headers["content-type"]), "content-length": String(body.length) });
          res.end(body);
        });
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  return proxy;
}

/** Where the first output of more than 8 bytes lies in a job result: its path, offset and size. */
function firstOutput(result: Buffer): { path: string; offset: number; size: number } | undefined {
  const headerLength = result.readUInt32BE(0);
  const header = JSON.parse(result.toString("utf8", 4, 4 + headerLength)) as { parts: { kind: string; path?: string; size: number }[] };
  let offset = 4 + headerLength;
  for (const part of header.parts) {
    if (part.kind === "output" && part.size > 8) return { path: part.path!, offset, size: part.size };
    offset += part.size;
  }
  return undefined;
}

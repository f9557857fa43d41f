import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP proxy on loopback in front of a real builder, which breaks
 * what passes through it on demand: job results whose object is altered
 * (valid base64 and JSON, wrong bytes), and uploads (blob or toolchain PUTs)
 * cut off mid-request. Everything else passes unchanged.
 */
export interface FaultProxy {
  url: string;
  port: number;
  /** Where requests go (the builder's own address), set once it listens. */
  target?: URL;
  /** Alter a successful job result: always, once per output path, or never. */
  corruptResults: "always" | "first-per-output" | "never";
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
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { outputs?: { path: string; data: string }[] };
          const out = body.outputs?.find((o) => o.data.length > 8);
          const corrupt = out !== undefined && (proxy.corruptResults === "always" || (proxy.corruptResults === "first-per-output" && !seenOutputs.has(out.path)));
          if (out) seenOutputs.add(out.path);
          if (corrupt) {
            // Another base64 letter in the middle: still base64 and JSON, other bytes.
            const i = out.data.length >> 1;
            out.data = out.data.slice(0, i) + (out.data[i] === "A" ? "B" : "A") + out.data.slice(i + 1);
            proxy.counts.corrupted++;
          }
          const text = Buffer.from(JSON.stringify(body));
          res.writeHead(200, { "content-type": "application/json", "content-length": String(text.length) });
          res.end(text);
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

import { z } from "zod";
import { parseStorageOptions } from "@reprise/core";

/** Options of a webdav level (config `options`, or REPRISE_WEBDAV_* variables as strings). */
export const webdavOptionsSchema = z
  .object({
    /** Base URL, e.g. http://cache.example:8080/reprise/ */
    endpoint: z.url({ protocol: /^https?$/ }),
    keyPrefix: z.string().default(""),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Sent as `Authorization: Bearer <token>`. */
    token: z.string().optional(),
  })
  .strict();

export type WebdavOptions = z.output<typeof webdavOptionsSchema>;

export function parseWebdavOptions(raw: Record<string, unknown> | undefined): WebdavOptions {
  return parseStorageOptions("webdav", webdavOptionsSchema, raw);
}

/** The Authorization header the options ask for, if any. */
export function authorization(o: WebdavOptions): string | undefined {
  if (o.token) return `Bearer ${o.token}`;
  if (o.username !== undefined || o.password !== undefined) return `Basic ${Buffer.from(`${o.username ?? ""}:${o.password ?? ""}`).toString("base64")}`;
  return undefined;
}

/** The endpoint as a collection URL (one trailing slash). */
export function endpointUrl(o: WebdavOptions): URL {
  const base = new URL(o.endpoint);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  return base;
}

/** The path under the endpoint for a blob name, each segment escaped. */
export function escapePath(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

import { z } from "zod";
import { ConfigError } from "@reprise/core";

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
  const r = webdavOptionsSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ConfigError("invalid webdav storage options", `${issue.path.join(".") || "options"}: ${issue.message}`);
}

/** The Authorization header the options ask for, if any. */
export function authorization(o: WebdavOptions): string | undefined {
  if (o.token) return `Bearer ${o.token}`;
  if (o.username !== undefined || o.password !== undefined) return `Basic ${Buffer.from(`${o.username ?? ""}:${o.password ?? ""}`).toString("base64")}`;
  return undefined;
}

/** The endpoint with one trailing slash and the key prefix appended (its slashes kept, each segment escaped). */
export function baseUrl(o: WebdavOptions): URL {
  const base = new URL(o.endpoint);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  const prefix = o.keyPrefix.split("/").map(encodeURIComponent).join("/");
  return new URL(prefix, base);
}

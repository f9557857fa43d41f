import { z } from "zod";
import { parseStorageOptions } from "@reprise/core";

/** "true"/"1"/"yes"/"on" and the like, from env strings or config booleans. */
const flag = z.union([z.boolean(), z.string()]).transform((v, ctx) => {
  if (typeof v === "boolean") return v;
  const s = v.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(s)) return true;
  if (["0", "false", "no", "off", ""].includes(s)) return false;
  ctx.addIssue({ code: "custom", message: `"${v}" is not true or false` });
  return z.NEVER;
});

/** Options of an s3 level (config `options`, or REPRISE_BUCKET, REPRISE_ENDPOINT, ... as strings). */
export const s3OptionsSchema = z
  .object({
    bucket: z.string().min(1),
    /** host[:port] or a URL; unset: AWS's own endpoint for the region. */
    endpoint: z.string().min(1).optional(),
    /** Unset: AWS_REGION / the SDK's chain, else us-east-1. "auto" is passed on (R2 and friends). */
    region: z.string().min(1).optional(),
    keyPrefix: z.string().default(""),
    /** Scheme for an endpoint given without one. */
    useSsl: flag.default(true),
    /** Anonymous access: requests are not signed (a public-read bucket). */
    noCredentials: flag.default(false),
  })
  .strict();

export type S3Options = z.output<typeof s3OptionsSchema>;

export function parseS3Options(raw: Record<string, unknown> | undefined): S3Options {
  return parseStorageOptions("s3", s3OptionsSchema, raw);
}

/** The endpoint as a URL, with the scheme `useSsl` asks for when it has none. */
export function endpointUrl(o: S3Options): string | undefined {
  if (!o.endpoint) return undefined;
  return /^https?:\/\//i.test(o.endpoint) ? o.endpoint : `${o.useSsl ? "https" : "http"}://${o.endpoint}`;
}

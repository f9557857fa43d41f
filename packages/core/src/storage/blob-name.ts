import type { BlobKind } from "./cache-storage.js";
import { RepriseError } from "../util/errors.js";

const KEY_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The name a remote backend stores a blob under, `<prefix>/results/<key>` or
 * `<prefix>/manifests/<key>`: validated, so neither kind nor key can steer a
 * URL or a Redis key elsewhere. A prefix names a directory, as in sccache:
 * "team" and "team/" are the same.
 */
export function blobName(kind: BlobKind, key: string, prefix = ""): string {
  if (kind !== "result" && kind !== "manifest") throw new RepriseError(`invalid blob kind ${JSON.stringify(String(kind).slice(0, 40))}`, "E_STORAGE_KEY");
  if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
    throw new RepriseError(`invalid cache key ${JSON.stringify(String(key).slice(0, 80))}`, "E_STORAGE_KEY", "keys are 64 lowercase hex characters");
  }
  return `${directoryPrefix(prefix)}${kind}s/${key}`;
}

/** "" stays "", anything else ends in exactly one "/". */
export function directoryPrefix(prefix: string): string {
  return prefix === "" ? "" : `${prefix.replace(/\/+$/, "")}/`;
}

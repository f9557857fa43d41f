import type { BlobKind } from "./cache-storage.js";
import { RepriseError } from "../util/errors.js";

const KEY_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The name a remote backend stores a blob under, `results/<key>` or
 * `manifests/<key>`: validated, so neither kind nor key can steer a URL or a
 * Redis key elsewhere. Backends put their own prefix in front.
 */
export function blobName(kind: BlobKind, key: string): string {
  if (kind !== "result" && kind !== "manifest") throw new RepriseError(`invalid blob kind ${JSON.stringify(String(kind).slice(0, 40))}`, "E_STORAGE_KEY");
  if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
    throw new RepriseError(`invalid cache key ${JSON.stringify(String(key).slice(0, 80))}`, "E_STORAGE_KEY", "keys are 64 lowercase hex characters");
  }
  return `${kind}s/${key}`;
}

import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { RepriseError } from "../util/errors.js";

const HASH = /^[0-9a-f]{64}$/;

/**
 * Job inputs by content hash: the source files and headers a job carries.
 * A builder keeps them, so a later job only needs what it lacks. Blobs are
 * read-only once stored, so sandboxes can hard-link or bind them.
 */
export class InputStore {
  constructor(readonly dir: string) {}

  blobPath(hash: string): string {
    if (!HASH.test(hash)) throw new RepriseError(`invalid input hash "${hash}"`, "E_INPUT_HASH");
    return join(this.dir, hash.slice(0, 2), hash);
  }

  has(hash: string): boolean {
    return existsSync(this.blobPath(hash));
  }

  /** Stores a copy of `file` under `hash` (the caller hashed it) unless present. */
  putFile(file: string, hash: string): string {
    const target = this.blobPath(hash);
    if (existsSync(target)) return target;
    mkdirSync(join(this.dir, hash.slice(0, 2)), { recursive: true, mode: 0o700 });
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString("hex")}`;
    try {
      copyFileSync(file, tmp);
      chmodSync(tmp, 0o444);
      renameSync(tmp, target);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // not created
      }
      throw err;
    }
    return target;
  }
}

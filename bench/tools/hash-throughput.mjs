// CPU throughput of the hashes Node offers, on a 64 MiB buffer (median and best of 5): which is the fastest sound content hash on this CPU.
//   node bench/tools/hash-throughput.mjs
import { createHash } from "node:crypto";
const buf = Buffer.alloc(64 << 20, 7); for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 255;
for (const alg of ["sha256", "blake2b512", "blake2s256", "sha512-256", "sha512", "sha1"]) {
  const rates = [];
  for (let r = 0; r < 5; r++) { const c0 = process.cpuUsage(); createHash(alg).update(buf).digest(); const c = process.cpuUsage(c0); rates.push(64 / ((c.user + c.system) / 1e6)); }
  rates.sort((a, b) => a - b);
  console.log(alg.padEnd(12), "MB/s (CPU) median", rates[2].toFixed(0), "max", rates[4].toFixed(0));
}

// (cargo-fresh2) What the store's CRC read-back of a kernel-copied output costs, per MB of output:
// for each file given (a cold build's largest outputs), 5 rounds of: (a) fs.copyFileSync as the store
// does, then the read-back and CRC (crc32OfFile's loop, 256 KB chunks), CPU of each step apart;
// (b) a copy by read + CRC + write through one 256 KB buffer. process.cpuUsage (user + system), ms.
// usage: node crc.cjs FILE...
const fs = require("node:fs");
const { crc32 } = require("node:zlib");
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const CHUNK = 256 * 1024;
const buf = Buffer.allocUnsafe(CHUNK);
let copyMs = 0, readCrcMs = 0, userCopyMs = 0, mb = 0;
for (let round = 0; round < 5; round++) {
  for (const f of process.argv.slice(2)) {
    const size = fs.statSync(f).size;
    mb += size / 1e6;
    const dst = `${f}.crc-bench`;
    let t = cpu();
    fs.copyFileSync(f, dst);
    copyMs += cpu() - t;
    t = cpu();
    const fd = fs.openSync(dst, "r");
    let c = 0, p = 0, n;
    while ((n = fs.readSync(fd, buf, 0, CHUNK, p)) > 0) { c = crc32(buf.subarray(0, n), c); p += n; }
    fs.closeSync(fd);
    readCrcMs += cpu() - t;
    fs.rmSync(dst);
    t = cpu();
    const src = fs.openSync(f, "r"), out = fs.openSync(dst, "w");
    c = 0; p = 0;
    while ((n = fs.readSync(src, buf, 0, CHUNK, p)) > 0) { c = crc32(buf.subarray(0, n), c); fs.writeSync(out, buf, 0, n); p += n; }
    fs.closeSync(src); fs.closeSync(out);
    userCopyMs += cpu() - t;
    fs.rmSync(dst);
  }
}
const per = (ms) => (ms / mb).toFixed(3);
console.log(`${mb.toFixed(0)} MB in all: kernel copy ${per(copyMs)} ms/MB, its read-back + CRC ${per(readCrcMs)} ms/MB; read + CRC + write ${per(userCopyMs)} ms/MB; load ${fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);

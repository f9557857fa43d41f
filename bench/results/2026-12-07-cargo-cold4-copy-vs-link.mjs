// (cargo-cold4) The hit index's part of a cold cargo build's idle work, alone: what the index did per large
// output before (a kernel copy of the stored format-4 entry, then cut to the output's length) against what it
// does now (a hard link to the entry), for every format-4 entry of a cache the build filled.
// CPU time of this process (user+sys, process.cpuUsage: the kernel's copy is sys time here), alternated rounds.
// usage: node 2026-12-07-cargo-cold4-copy-vs-link.mjs <cache dir> <scratch dir on the same file system> [rounds]
import { readdirSync, readFileSync, copyFileSync, linkSync, truncateSync, rmSync, mkdirSync, statSync, openSync, readSync, closeSync, constants } from "node:fs";
import { join } from "node:path";
const [cache, scratch, rounds = "3"] = process.argv.slice(2);
const root = join(cache, "results");
const leads = [];
for (const shard of readdirSync(root).filter((s) => /^[0-9a-f]{2}$/.test(s)))
  for (const name of readdirSync(join(root, shard))) {
    const p = join(root, shard, name);
    const fd = openSync(p, "r"); const size = statSync(p).size; const tail = Buffer.alloc(4);
    readSync(fd, tail, 0, 4, size - 4); closeSync(fd);
    if (tail.toString("latin1") === "RPRt") leads.push({ p, size });
  }
const mb = leads.reduce((a, l) => a + l.size, 0) / 1048576;
const ways = {
  copy: (l, d) => { copyFileSync(l.p, d, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE); truncateSync(d, Math.max(0, l.size - 1000)); },
  link: (l, d) => linkSync(l.p, d),
};
for (let r = 0; r < +rounds; r++)
  for (const [name, f] of r % 2 ? Object.entries(ways).reverse() : Object.entries(ways)) {
    const dir = join(scratch, `${name}-${r}`); rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
    const t0 = process.cpuUsage(); const w0 = performance.now();
    leads.forEach((l, i) => f(l, join(dir, String(i))));
    const t = process.cpuUsage(t0);
    console.log(`${name}: ${leads.length} entries, ${mb.toFixed(0)} MB: cpu ${((t.user + t.system) / 1000).toFixed(0)} ms (sys ${(t.system / 1000).toFixed(0)}), wall ${(performance.now() - w0).toFixed(0)} ms, load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
    rmSync(dir, { recursive: true, force: true });
  }

// CPU time from /proc, for the benches: this process's waited-for children, and the live processes
// marked by an environment variable (a tool's daemon and the helpers it started).
import fs from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export function procTimes(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { utime: +f[11], stime: +f[12], cutime: +f[13], cstime: +f[14] };
  } catch { return null; }
}

/** CPU ms of this process's waited-for descendants (builds, compilers, clients). */
export function childCpuMs() {
  const t = procTimes('self');
  return t ? (t.cutime + t.cstime) * TICK_MS : 0;
}

/** CPU ms so far of the live processes whose environment holds `marker` (a tool's daemon), their waited-for children included. */
export function markedCpuMs(marker) {
  if (!marker) return 0;
  let ms = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker)) continue;
      const t = procTimes(pid);
      if (t) ms += (t.utime + t.stime + t.cutime + t.cstime) * TICK_MS;
    } catch { /* gone or not ours */ }
  }
  return ms;
}

#!/bin/bash
# One libuv farm job replayed outside the builder (session 14, builder-lean3): alternates the plain compile, the job's
# bwrap command line with its compile, the same bwrap running `cc --version`, and `cc --version` on the host; CPU per
# run from a cpuacct cgroup each (root, cgroup v1). R holds: argv.full (a job's bwrap arguments, logged by a `bwrap`
# wrapper on the builder's PATH, its paths moved under R: the builder's trees/ and toolchains/ copied with cp -a,
# the job's w/0 and in/0 made again), argv.version (the same ending in `-- /usr/bin/cc --version`), plain.cmd (the
# compile with the project's paths on the host), job/w/0 and plain/b (the two working directories).
# usage: R=dir 2026-12-07-builder-lean3-replay.sh [N]
R=${R:-/tmp/bl3-replay}; N=${1:-30}; CG=/sys/fs/cgroup/cpuacct
for v in plain bfull bver hver; do mkdir -p $CG/bl3-$v; done
run() { local v=$1; shift; sh -c 'echo $$ > '$CG/bl3-$v'/cgroup.procs; exec "$@"' sh "$@"; }
u0() { for v in plain bfull bver hver; do echo -n "$(cat $CG/bl3-$v/cpuacct.usage) "; done; }
set -- $(u0); s=("$@")
for i in $(seq $N); do
  (cd $R/plain/b && eval "run plain $(cat $R/plain.cmd)")
  (cd $R/job/w/0 && eval "run bfull /usr/bin/bwrap $(cat $R/argv.full)" 3>/dev/null)
  (cd $R/job/w/0 && eval "run bver /usr/bin/bwrap $(cat $R/argv.version)" 3>/dev/null >/dev/null)
  (cd $R/plain/b && run hver /usr/bin/cc --version >/dev/null)
done
set -- $(u0); e=("$@"); k=0
for v in plain bfull bver hver; do printf "%s %.2f ms/run\n" $v $(echo "(${e[$k]} - ${s[$k]}) / $N / 1000000" | bc -l); k=$((k+1)); done
for v in plain bfull bver hver; do rmdir $CG/bl3-$v; done

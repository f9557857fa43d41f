#!/bin/bash
# bwrap with each file's arguments (variants of a replayed job's command line, see 2026-12-07-builder-lean3-replay.sh),
# alternated, CPU per run from a cpuacct cgroup each. usage: R=dir 2026-12-07-builder-lean3-variants.sh N file...
R=${R:-/tmp/bl3-replay}; N=$1; shift; CG=/sys/fs/cgroup/cpuacct
for v in "$@"; do mkdir -p $CG/bl3-$v; done
declare -A s; for v in "$@"; do s[$v]=$(cat $CG/bl3-$v/cpuacct.usage); done
for i in $(seq $N); do for v in "$@"; do
  (cd $R/job/w/0 && eval "sh -c 'echo \$\$ > $CG/bl3-$v/cgroup.procs; exec \"\$@\"' sh /usr/bin/bwrap $(cat $R/$v)" 3>/dev/null >/dev/null)
done; done
for v in "$@"; do printf "%-12s %.2f ms/run\n" $v $(echo "($(cat $CG/bl3-$v/cpuacct.usage) - ${s[$v]}) / $N / 1000000" | bc -l); rmdir $CG/bl3-$v; done

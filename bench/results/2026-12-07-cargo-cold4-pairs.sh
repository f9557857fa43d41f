#!/bin/bash
# (cargo-cold4) as 2026-12-07-cargo-cold3-pairs.sh: N alternated pairs of fresh-daemon cold cargo builds, base
# (a: a built copy of main at the branch point, /work/wt/cargo-cold4-base) then branch (b: /work/wt/cargo-cold4),
# through 2026-12-07-cargo-cold4-build.sh (CF=/tmp/cc4); each line: the build script's split with the 1-min
# load average before and after, cargo's wall and CPU (with rustc and the clients).
# usage: pairs.sh N
D=$(cd $(dirname $0) && pwd)
for i in $(seq 1 $1); do
 for t in a b; do R=/work/wt/cargo-cold4-base; [ $t = b ] && R=/work/wt/cargo-cold4
  l0=$(cut -d' ' -f1 /proc/loadavg)
  out=$( CF=/tmp/cc4 IDLE=${IDLE:-12} $D/2026-12-07-cargo-cold4-build.sh $R $t 2>&1 | grep -E "^daemon|^hits|^cargo wall")
  echo "pair $i $t load $l0-$(cut -d' ' -f1 /proc/loadavg): $(echo $out | tr '\n' ' ')"
 done
done

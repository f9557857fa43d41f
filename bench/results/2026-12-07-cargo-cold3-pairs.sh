#!/bin/bash
# (cargo-cold3) N alternated pairs of fresh-daemon cold cargo builds, base (a: a built copy of main
# at the branch point, /work/wt/cargo-cold3-base) then branch (b), through 2026-12-07-cargo-cold3-build.sh
# (CF=/tmp/cc3); each line: the build script's split with the 1-min load average before and after.
# usage: pairs.sh N
D=$(dirname $0)
for i in $(seq 1 $1); do
 for t in a b; do R=/work/wt/cargo-cold3-base; [ $t = b ] && R=/work/wt/cargo-cold3
  l0=$(cut -d' ' -f1 /proc/loadavg)
  out=$(CF=/tmp/cc3 IDLE=${IDLE:-12} $D/2026-12-07-cargo-cold3-build.sh $R $t 2>&1 | grep -E "^daemon|^hits")
  echo "pair $i $t load $l0-$(cut -d' ' -f1 /proc/loadavg): $(echo $out | tr '\n' ' ')"
 done
done

#!/bin/bash
# (cargo-fresh2) alternated fresh-daemon cold cargo builds: base (a: a built copy of main) and
# branch (b); the daemon's CPU, main thread and other threads, through session 12's build script
# (its work folder CF=/tmp/cf2: scripts/setup-rust-fixtures.sh /tmp/cf2/ws). usage: pairs.sh N
D=$(dirname $0)
for i in $(seq 1 $1); do
 for t in a b; do R=/work/wt/cargo-fresh2-base; [ $t = b ] && R=/work/wt/cargo-fresh2
  l0=$(cut -d' ' -f1 /proc/loadavg)
  out=$(CF=/tmp/cf2 $D/2026-12-07-cargo-fresh-build.sh $R $t 2>&1)
  echo "$out" | awk -v t=$t -v l0=$l0 -v i=$i -v l1=$(cut -d' ' -f1 /proc/loadavg) '/daemon pid/{p=1; next} p && NF==2 && $2 ~ /^[0-9.]+$/ {n++; if(n==1) m=$2; else o+=$2} /misses/{st=$0} END{printf "pair %d %s daemon main %.0f ms, other threads %.0f ms, total %.0f ms, load %s-%s (%s)\n", i, t, m, o, m+o, l0, l1, st}'
 done
done

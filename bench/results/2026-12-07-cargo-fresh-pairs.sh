#!/bin/bash
# alternated fresh-daemon cold cargo builds: base (a) and branch (b); daemon CPU main/other threads
for i in $(seq 1 $1); do
 for t in a b; do R=/work/wt/cargo-fresh-base; [ $t = b ] && R=/work/wt/cargo-fresh
  l0=$(cut -d' ' -f1 /proc/loadavg)
  out=$(bench/results/2026-12-07-cargo-fresh-build.sh $R $t 2>&1)
  pid=$(echo "$out" | awk '/daemon pid/{print $3}')
  echo "$out" | awk -v t=$t -v l0=$l0 -v i=$i -v l1=$(cut -d' ' -f1 /proc/loadavg) 'NF==2 && $1 ~ /node|v8|^[a-z]/ && $2 ~ /^[0-9.]+$/ {n++; if(n==1) m=$2; else o+=$2} /misses/{st=$0} END{printf "pair %d %s daemon main %.0f ms, other threads %.0f ms, total %.0f ms, load %s-%s (%s)\n", i, t, m, o, m+o, l0, l1, st}'
 done
done

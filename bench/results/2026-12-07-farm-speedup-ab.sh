#!/bin/bash
# Alternates the branch point (base) and this branch, yaml-cpp build scenario, one pair each round.
for i in 1 2; do
  for side in base this; do
    if [ $side = base ]; then dir=/work/wt/farm-speedup-base; else dir=/work/wt/farm-speedup; fi
    echo "=== round $i $side $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" 
    (cd $dir && node bench/farm.mjs --only=build --project=yaml-cpp --reps=1 --work=/tmp/fs-ab-$side-$i --json=/tmp/fs-ab-$side-$i.json 2>&1 >/dev/null | grep -v '^$')
  done
done
echo "=== done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"

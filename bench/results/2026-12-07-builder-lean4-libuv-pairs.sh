#!/bin/bash
# base then branch, alternated, the session-14 libuv builder-side script (from this checkout) on each checkout.
S=/work/wt/builder-lean4/bench/results/2026-12-06-farm-builder-libuv.sh
export LIBUV=/work/wt/builder-lean4/.fixtures/libuv1
for pair in 1 2 3; do
  if [ $((pair % 2)) = 1 ]; then order="base branch"; else order="branch base"; fi
  for side in $order; do
    if [ $side = base ]; then W=/work/wt/builder-lean4-base; else W=/work/wt/builder-lean4; fi
    l0=$(cut -d' ' -f1 /proc/loadavg); t0=$(date -u +%H:%M)
    out=$(W=$W bash $S 2>&1 | tail -1)
    echo "pair $pair $side ($t0 UTC, load $l0→$(cut -d' ' -f1 /proc/loadavg)): $out"
  done
done

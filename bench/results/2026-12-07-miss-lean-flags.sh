#!/bin/bash
# Daemon CPU (all its threads, /proc utime+stime) over a fresh-daemon cold lua5.4 build, per V8 flag set, alternated;
# with WARM=N, then over each of N warm builds served by the daemon itself (REPRISE_NO_CLIENT_HITS=1);
# with KEPT=N, then over each of N more cold builds by the same daemon (cache emptied by --clear before each).
# B: a built checkout's packages/core (its daemon is started by hand with the flags); FIXTURES: the lua5.4 source tree.
# VARIANTS='--stack-size=984|--interrupt-budget=675840' ROUNDS=3 bash THIS (--stack-size=984 is V8's default: no change)
B=${B:?a built packages/core}
W=/tmp/ml-flags; rm -rf $W; mkdir -p $W/rt; chmod 700 $W/rt; cp -a ${FIXTURES:?the lua5.4 tree} $W/tree
export REPRISE_DIR=$W/cache REPRISE_RUNTIME_DIR=$W/rt LC_ALL=C REPRISE_IDLE_TIMEOUT=900
cd $W/tree
one() {
  node $B/dist/bin/reprise.js --stop-server >/dev/null 2>&1; rm -rf $W/cache; make clean >/dev/null
  setsid node "$@" $B/dist/daemon/entry.js >/dev/null 2>&1 < /dev/null &
  pid=$!; sleep 2
  t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  make -j2 CC="$B/dist/native/reprise-native gcc -std=gnu99" linux >/dev/null 2>&1 || echo BUILD FAILED
  last=-1; while :; do sleep 0.5; now=$(awk '{print $14+$15}' /proc/$pid/stat); [ "$now" = "$last" ] && break; last=$now; done
  warm=""
  for i in $(seq 1 ${WARM:-0}); do
    make clean >/dev/null; w0=$(awk '{print $14+$15}' /proc/$pid/stat)
    REPRISE_NO_CLIENT_HITS=1 make -j2 CC="$B/dist/native/reprise-native gcc -std=gnu99" linux >/dev/null 2>&1 || echo BUILD FAILED
    sleep 0.5; warm="$warm $(( ($(awk '{print $14+$15}' /proc/$pid/stat) - w0) * 10 ))"
  done
  kept=""
  for i in $(seq 1 ${KEPT:-0}); do
    make clean >/dev/null; node $B/dist/bin/reprise.js --clear >/dev/null; k0=$(awk '{print $14+$15}' /proc/$pid/stat)
    make -j2 CC="$B/dist/native/reprise-native gcc -std=gnu99" linux >/dev/null 2>&1 || echo BUILD FAILED
    k1=-1; while :; do sleep 0.5; k=$(awk '{print $14+$15}' /proc/$pid/stat); [ "$k" = "$k1" ] && break; k1=$k; done
    kept="$kept $(( (k - k0) * 10 ))"
  done
  m=$(node $B/dist/bin/reprise.js --show-stats --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).stats.misses))')
  echo "$* start=$((t0*10))ms build=$(((now-t0)*10))ms misses=$m${WARM:+ warm builds ms:$warm}${KEPT:+ kept cold builds ms:$kept} load=$(cut -d' ' -f1 /proc/loadavg)"
}
IFS='|' read -ra VARS <<< "${VARIANTS:-}"
for r in $(seq 1 ${ROUNDS:-3}); do
  for v in "${VARS[@]}"; do one $v; done
done
node $B/dist/bin/reprise.js --stop-server >/dev/null 2>&1

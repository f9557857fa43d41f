#!/bin/bash
# The idle copies' system calls and the daemon main thread's CPU after one lua5.4 cold build, for each checkout given,
# alternated: a kept daemon per checkout (warm-up build first), the cache cleared, a cold build, then until every idle
# copy is made (fallbackCopiesWaiting 0, fallbackCopiesLater = misses, then 1 s). Mode "strace": strace -c -f of
# the daemon over that after-build phase (counts; strace slows it, its CPU is not reported); mode "cpu": the main
# thread's CPU (schedstat) over the same phase, no tracer.
# usage: 2026-12-08-cold-lean7-after.sh <strace|cpu> <fixtures dir> <rounds> <checkout>...
set -e
mode=$1; fx=$2; rounds=$3; shift 3
declare -A pid rt wk
for dir in "$@"; do
  w=$(mktemp -d /tmp/cl7-af-XXXX); r=$(mktemp -d /tmp/cl7ar-XXXX); chmod 700 $r
  cp -a $fx/lua5.4 $w/tree; wk[$dir]=$w; rt[$dir]=$r
  (cd $w/tree && env -u MAKEFLAGS -u NODE_OPTIONS LC_ALL=C REPRISE_DIR=$w/cache REPRISE_RUNTIME_DIR=$r REPRISE_IDLE_TIMEOUT=900 \
    make -j2 CC="$dir/packages/core/dist/native/reprise-native gcc -std=gnu99" linux >/dev/null 2>&1)
  pid[$dir]=$(for p in /proc/[0-9]*; do if tr "\0" "\n" 2>/dev/null < $p/environ | grep -qx "REPRISE_RUNTIME_DIR=$r" && head -c 200 $p/cmdline | tr '\0' ' ' | grep -v spawn-helper | grep -q node; then basename $p; fi; done | head -1)
done
cli() { env -u MAKEFLAGS LC_ALL=C REPRISE_DIR=${wk[$1]}/cache REPRISE_RUNTIME_DIR=${rt[$1]} node $1/packages/core/dist/bin/reprise.js "${@:2}"; }
mainns() { awk '{print $1}' /proc/$1/task/$1/schedstat; }
waitdone() { # until every miss's copy is made (fallbackCopiesLater = misses, none waiting), then 1 s more
  local w
  for i in $(seq 1 600); do
    sleep 0.5
    w=$(cli $1 --show-stats --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).stats;console.log(t.fallbackCopiesWaiting+" "+t.fallbackCopiesLater+" "+t.misses)})')
    set -- $1 $w
    if [ "$2" = 0 ] && [ "$3" = "$4" ] && [ "$4" != 0 ]; then sleep 1; echo "$2 $3"; return; fi
  done
  echo "timeout $w"
}
for r in $(seq 1 $rounds); do
  if [ $((r % 2)) = 1 ]; then order="$*"; else order=$(printf '%s\n' "$@" | tac | tr '\n' ' '); fi
  for dir in $order; do
    p=${pid[$dir]}
    cli $dir --clear >/dev/null; cli $dir --zero-stats >/dev/null
    (cd ${wk[$dir]}/tree && make clean >/dev/null && env -u MAKEFLAGS LC_ALL=C REPRISE_DIR=${wk[$dir]}/cache REPRISE_RUNTIME_DIR=${rt[$dir]} make -j2 CC="$dir/packages/core/dist/native/reprise-native gcc -std=gnu99" linux >/dev/null 2>&1)
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [ $mode = strace ]; then
      out=$(mktemp /tmp/cl7-st-XXXX)
      strace -c -f -p $p -o $out 2>/dev/null & sp=$!
      done=$(waitdone $dir $p); kill -INT $sp; wait $sp || true
      echo "round $r $dir load $load copies(waiting made) $done: $(awk '$NF=="statx"||$NF=="newfstatat"||$NF=="openat"||$NF=="unlink"||$NF=="rename"||$NF=="total"{printf "%s %s  ", $NF, ($NF=="total"?$4:$4)}' $out)"
      rm -f $out
    else
      a=$(mainns $p); done=$(waitdone $dir $p); b=$(mainns $p)
      echo "round $r $dir load $load copies(waiting made) $done: after-build main thread $(( (b - a) / 1000000 )) ms"
    fi
  done
done
for dir in "$@"; do cli $dir --stop-server >/dev/null; rm -rf ${wk[$dir]} ${rt[$dir]}; done

#!/bin/bash
# (cargo-cold4) cargo-cold3's build script (2026-12-07-cargo-cold3-build.sh: one fresh-daemon cold cargo
# build of $CF/ws, 51 rustc calls, and the whole Reprise-side CPU split: the daemon at the build's end and
# after IDLE s, its spawn helper, the native clients through $CF/timewrap), plus:
# PERF=1: the daemon runs with NODE_OPTIONS=--perf-basic-prof and `perf record -e cpu-clock -g -p <daemon>` runs from
# the daemon's start to the idle read, into $CF/perf-$TAG.data: on-CPU samples only, so the shares
# do not depend on the load (V8's own profiler samples the main thread's wall time, blocked syscalls too).
# usage: build.sh REPO TAG
CF=${CF:-/tmp/cc4}; IDLE=${IDLE:-10}
REPO=$1; TAG=$2
export PATH=/root/.cargo/bin:$PATH CARGO_HOME=$CF/cargo-home CARGO_BUILD_JOBS=2 CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
export REPRISE_DIR=$CF/cache-$TAG REPRISE_RUNTIME_DIR=$CF/rt-$TAG REPRISE_PLUGINS=$REPO/packages/plugin-rustc/dist/bundle/index.js REPRISE_IDLE_TIMEOUT=900
N=$REPO/packages/core/dist/native/reprise-native
mkdir -p -m 700 $REPRISE_RUNTIME_DIR
cd $CF/ws
if [ ! -d $REPRISE_DIR ]; then cargo clean -q; RUSTC_WRAPPER=$N cargo build -q 2>&1 | tail -2; fi
$N --clear >/dev/null; $N --stop-server >/dev/null
cargo clean -q
export TIMEWRAP_EXE=$N TIMEWRAP_LOG=$CF/clients-$TAG.log; rm -f $TIMEWRAP_LOG
if [ -n "$PERF" ]; then export NODE_OPTIONS="--perf-basic-prof"; (
  until p=$(ls $REPRISE_RUNTIME_DIR 2>/dev/null | grep -o 'tmp-[0-9]*' | head -1 | cut -c5-) && [ -n "$p" ]; do sleep 0.05; done
  exec perf record -q -e cpu-clock -F 2000 -g -p $p -o $CF/perf-$TAG.data >/dev/null 2>&1 ) & PERFPID=$!; fi
# cargo's wall and the CPU of cargo and what it waited for (rustc, the clients; not the daemon, which is not its child)
RUSTC_WRAPPER=$CF/timewrap /usr/bin/time -f "cargo wall %e s, cpu %U+%S s" cargo build -q 2>&1 | tail -3
unset NODE_OPTIONS
pid=$(ls $REPRISE_RUNTIME_DIR | grep -o 'tmp-[0-9]*' | head -1 | cut -c5-)
cpu() { awk '{printf "%d", ($14+$15)*10}' /proc/$1/stat 2>/dev/null || echo 0; }  # utime+stime of all threads, live or gone (ms)
d0=$(cpu $pid); helpers=$(cat /proc/$pid/task/*/children 2>/dev/null)
sleep $IDLE
[ -n "$PERF" ] && kill -INT $PERFPID && wait $PERFPID && sleep 1
d1=$(cpu $pid); h=0; for c in $helpers; do h=$((h + $(cpu $c))); done
awk -v d0=$d0 -v d1=$d1 -v h=$h '($1+$2) > 15000 {r++; next} {u+=$1; s+=$2; n++} END{printf "daemon %d ms at end, %d ms after idle; helper %d ms; clients %d calls %.0f ms (%.2f ms/call; %d calls that ran rustc itself left out); total %.0f ms\n", d0, d1, h, n, (u+s)/1000, (u+s)/1000/n, r, d1+h+(u+s)/1000}' $TIMEWRAP_LOG
$N --show-stats --json | node -e 'const s=JSON.parse(require("fs").readFileSync(0)).stats; console.log("hits",s.hitsDirect+s.hitsPreprocessor,"misses",s.misses, JSON.stringify(s.notCacheable))'
$N --stop-server >/dev/null

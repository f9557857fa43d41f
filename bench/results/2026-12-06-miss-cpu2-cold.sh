#!/bin/bash
# A cold CMake build of libuv1 (all targets, or one: e.g. uv_run_tests_a, 209 compiles with no -D siblings),
# plain or through Reprise (fresh cache, daemon started before the build). CPU = make's tree (`times`) + the
# daemon's own + its compiler launcher's (reprise-native --spawn-helper, with the compiles it waited for);
# "idle after" = the daemon's and the launcher's CPU once the build ended (hit-index entries, fallback copies).
# usage: 2026-12-06-miss-cpu2-cold.sh <plain|ccache|reprise> <make target> [label] (ccache: a new CCACHE_DIR, counted in make's tree); REPRISE_* pass through;
# W=checkout (default: this one), LIBUV=libuv1 source tree; PROF=dir (--cpu-prof) or PERF=file (perf record).
mode=$1; target=$2; label=${3:-$1}
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; R="node $W/packages/core/dist/bin/reprise.js"
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree (e.g. apt-get source libuv1 with a deb-src list)}
T=$(mktemp -d /tmp/miss-cold-XXXXXX); cp -a "$LIBUV" $T/src; mkdir $T/b; cd $T/b
launcher=""
[ $mode = reprise ] && { export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run; launcher=-DCMAKE_C_COMPILER_LAUNCHER=$N; }
[ $mode = ccache ] && { export CCACHE_DIR=$T/ccache; launcher=-DCMAKE_C_COMPILER_LAUNCHER=ccache; }
cmake -S $T/src -B . $launcher >/dev/null 2>&1 || { echo cmake failed; exit 1; }
hz=$(getconf CLK_TCK)
if [ $mode = reprise ]; then
  if [ -n "$PERF" ]; then mkdir -p $REPRISE_RUNTIME_DIR; chmod 700 $REPRISE_RUNTIME_DIR; (node --perf-basic-prof --interpreted-frames-native-stack $W/packages/core/dist/daemon/entry.js 2>>$T/daemon.log &); for i in $(seq 100); do ls -d $REPRISE_RUNTIME_DIR/tmp-* >/dev/null 2>&1 && break; sleep 0.1; done
  elif [ -n "$PROF" ]; then mkdir -p $REPRISE_RUNTIME_DIR; chmod 700 $REPRISE_RUNTIME_DIR; (node $NODEOPTS --cpu-prof --cpu-prof-dir=$PROF $W/packages/core/dist/daemon/entry.js 2>>$T/daemon.log &); for i in $(seq 100); do ls -d $REPRISE_RUNTIME_DIR/tmp-* >/dev/null 2>&1 && break; sleep 0.1; done
  else $N --start-server >/dev/null 2>&1; fi
  pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//')
  read -r d0 c0 < <(awk '{print $14+$15, $16+$17}' /proc/$pid/stat)
fi
[ -n "$PERF" ] && { perf record -F 997 -g -p $pid -o $PERF 2>/dev/null >/dev/null & perfpid=$!; sleep 0.5; }
c=$(bash -c "make -j2 $target >/dev/null 2>&1; times" | tail -1 | sed 's/[ms]/ /g' | awk '{print $1*60+$2+$3*60+$4}')
if [ $mode = reprise ]; then
  [ -n "$PERF" ] && { kill -INT $perfpid; wait $perfpid; }
  read -r d1 c1 < <(awk '{print $14+$15, $16+$17}' /proc/$pid/stat)
  hp=$(pgrep -P $pid -f -- --spawn-helper | head -1); h1=0; [ -n "$hp" ] && h1=$(awk '{print $14+$15+$16+$17}' /proc/$hp/stat)
  tot() { local h=0; [ -n "$hp" ] && h=$(awk '{print $14+$15+$16+$17}' /proc/$hp/stat 2>/dev/null || echo 0); echo $(( $(awk '{print $14+$15+$16+$17}' /proc/$pid/stat) + h )); }
  t1=$(tot); sleep 3; prev=-1; for i in $(seq 300); do sleep 1; cur=$(tot); [ "$cur" = "$prev" ] && break; prev=$cur; done
  idle=$(echo "($cur - $t1)/$hz" | bc -l)
  st=$($R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const s=JSON.parse(t).stats;console.log("direct",s.hitsDirect,"pp",s.hitsPreprocessor,"miss",s.misses)})')
  $R --stop-server >/dev/null 2>&1
  printf "%s cpu %.2f s (make %.2f + daemon %.2f + daemon children %.2f + helper %.2f) idle after %.2f; %s\n" $label $(echo "$c + ($d1 - $d0 + $c1 - $c0 + $h1)/$hz" | bc -l) $c $(echo "($d1-$d0)/$hz" | bc -l) $(echo "($c1-$c0)/$hz" | bc -l) $(echo "$h1/$hz" | bc -l) $idle "$st"
else
  printf "%s cpu %.2f s\n" $label $c
fi
cd /; rm -rf $T

#!/bin/bash
# usage: cold.sh <plain|ccache|reprise> [label]; env passes REPRISE_* settings; PROF=dir profiles the daemon
mode=$1; label=${2:-$1}
W=${W:-/work/wt/miss-cpu}; N=$W/packages/core/dist/native/reprise-native; R="node $W/packages/core/dist/bin/reprise.js"
T=/tmp/mc/run-$$; rm -rf $T; mkdir -p $T; cp -a /tmp/mp/fixtures/libuv1 $T/src; mkdir $T/b; cd $T/b
launcher=""
case $mode in
  ccache) export CCACHE_DIR=$T/ccache; launcher=-DCMAKE_C_COMPILER_LAUNCHER=ccache;;
  reprise) export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run; launcher=-DCMAKE_C_COMPILER_LAUNCHER=$N;;
esac
cmake -S $T/src -B . $launcher >/dev/null 2>&1 || { echo cmake failed; exit 1; }
if [ $mode = reprise ]; then
  if [ -n "$PROF" ]; then mkdir -p $REPRISE_RUNTIME_DIR; chmod 700 $REPRISE_RUNTIME_DIR; (node --cpu-prof --cpu-prof-dir=$PROF $W/packages/core/dist/daemon/entry.js 2>>$T/daemon.log &); for i in $(seq 100); do ls -d $REPRISE_RUNTIME_DIR/tmp-* >/dev/null 2>&1 && break; sleep 0.1; done
  else $N --start-server >/dev/null 2>&1; fi
  pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//')
  read -r d0 s0 < <(awk '{print $14+$15+$16+$17, $14+$15}' /proc/$pid/stat)
fi
s=$(date +%s.%N)
c=$(bash -c 'make -j2 >/dev/null 2>&1; times' | tail -1 | sed 's/[ms]/ /g' | awk '{print $1*60+$2+$3*60+$4}')
e=$(date +%s.%N)
hz=$(getconf CLK_TCK)
if [ $mode = reprise ]; then
  read -r d1 s1 < <(awk '{print $14+$15+$16+$17, $14+$15}' /proc/$pid/stat)
  hp=$(pgrep -P $pid -f -- --spawn-helper | head -1); h1=0; [ -n "$hp" ] && h1=$(awk '{print $14+$15+$16+$17}' /proc/$hp/stat)
  rss=$(grep VmHWM /proc/$pid/status | awk '{print $2/1024 "MB"}')
  # idle work after the build: wait until the daemon's CPU stops growing
  prev=-1; for i in $(seq 120); do sleep 1; cur=$(awk '{print $14+$15+$16+$17}' /proc/$pid/stat); [ "$cur" = "$prev" ] && break; prev=$cur; done
  idle=$(echo "($cur - $d1)/$hz" | bc -l)
  st=$($R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const s=JSON.parse(t).stats;console.log("direct",s.hitsDirect,"pp",s.hitsPreprocessor,"miss",s.misses,"idleCopies",s.fallbackCopiesLater)})')
  if [ -n "$HEADER_EDIT" ]; then
    for i in $(seq 300); do w=$($R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>console.log(JSON.parse(t).stats.fallbackCopiesWaiting))'); [ "$w" = 0 ] && break; sleep 1; done
    make clean >/dev/null 2>&1; echo "/* a comment appended to uv.h */" >> $T/src/include/uv.h; $R --zero-stats >/dev/null 2>&1
    es=$(date +%s.%N); make -j2 >/dev/null 2>&1; ee=$(date +%s.%N)
    edit=$($R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const s=JSON.parse(t).stats;console.log("after uv.h comment: direct",s.hitsDirect,"pp",s.hitsPreprocessor,"miss",s.misses)})')
    echo "$label $edit wall $(echo "$ee - $es" | bc) s"
  fi
  $R --stop-server >/dev/null 2>&1
  dt=$(echo "($d1 - $d0 + $h1)/$hz" | bc -l); ds=$(echo "($s1 - $s0)/$hz" | bc -l)
  printf "%s wall %.1f s cpu %.2f s (make %.2f + daemon tree %.2f, daemon itself %.2f, hwm %s) idle after %.2f s; %s\n" $label $(echo "$e - $s" | bc) $(echo "$c + $dt" | bc -l) $c $dt $ds $rss $idle "$st"
else
  printf "%s wall %.1f s cpu %.2f s\n" $label $(echo "$e - $s" | bc) $c
fi
cd /; rm -rf $T

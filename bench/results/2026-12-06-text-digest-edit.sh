#!/bin/bash
# A cold CMake build of libuv1 through Reprise (fresh cache, daemon started before), then a comment edited in
# include/uv.h (inside its first comment block: no line added) and the same target built again. Prints the
# cold build's CPU (make's tree + daemon + launcher) and the rebuild's CPU with its hits and misses.
# usage: 2026-12-06-text-digest-edit.sh <make target>; REPRISE_* pass through; W=checkout, LIBUV=libuv1 source tree
target=$1
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; R="node $W/packages/core/dist/bin/reprise.js"
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree}
T=$(mktemp -d /tmp/td-edit-XXXXXX); cp -a "$LIBUV" $T/src; mkdir $T/b; cd $T/b
export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
cmake -S $T/src -B . -DCMAKE_C_COMPILER_LAUNCHER=$N >/dev/null 2>&1 || { echo cmake failed; exit 1; }
$N --start-server >/dev/null 2>&1
pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//'); hz=$(getconf CLK_TCK)
tot() { local hp h=0; hp=$(pgrep -P $pid -f -- --spawn-helper | head -1); [ -n "$hp" ] && h=$(awk '{print $14+$15+$16+$17}' /proc/$hp/stat 2>/dev/null || echo 0); echo $(( $(awk '{print $14+$15+$16+$17}' /proc/$pid/stat) + h )); }
stats() { $R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const s=JSON.parse(t).stats;console.log("direct",s.hitsDirect,"byText",s.hitsDirectText,"pp",s.hitsPreprocessor,"miss",s.misses)})'; }
build() { local t0 c t1; t0=$(tot); c=$(bash -c "make -j2 $target >/dev/null 2>&1; times" | tail -1 | sed 's/[ms]/ /g' | awk '{print $1*60+$2+$3*60+$4}'); t1=$(tot); printf "cpu %.2f s (make %.2f + reprise %.2f)" $(echo "$c + ($t1-$t0)/$hz" | bc -l) $c $(echo "($t1-$t0)/$hz" | bc -l); }
echo "cold: $(build); $(stats)"
sleep 3
sed -i '0,/Permission is hereby granted/s//Permission is, hereby, granted/' $T/src/include/uv.h
echo "after a comment edit in include/uv.h: $(build); $(stats)"
$R --stop-server >/dev/null 2>&1; cd /; rm -rf $T

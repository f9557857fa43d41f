#!/bin/bash
# A cold build of Debian's lua5.4 (34 compiles, `make -j2 linux`, CC="<tool> gcc -std=gnu99"): plain, ccache, or
# Reprise with a fresh cache. CPU = make's tree (`times`, which includes ccache) + for Reprise the daemon's own and
# its compiler launcher's (reprise-native --spawn-helper, with the compiles it waited for), read from /proc.
# "idle after" = the daemon's and the launcher's CPU once the build ended (hit-index entries, fallback copies).
# usage: 2026-12-06-miss-cpu3-lua.sh <plain|ccache|reprise|reprise-restart|reprise-warm> [label]
#   reprise:      a new cache directory and a daemon started just before the build (start-up costs count);
#   reprise-restart: a daemon builds once, `make clean` + `reprise --clear` + `--stop-server`, then a fresh daemon
#                 (started just before, counted) builds cold: what a user's next project costs (the cache
#                 directory keeps what daemons remember across restarts);
#   reprise-warm: the same daemon builds once, `make clean` + `reprise --clear`, then the measured cold build
#                 (no entries, but the daemon knows the compiler, the include search and the headers' hashes).
# env: W=checkout (default: this one), LUA=lua5.4 source tree (scripts/fetch-fixture-sources.sh), REPRISE_* pass through;
#      PROF=dir: the daemon runs with --cpu-prof into it.
mode=$1; label=${2:-$1}
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; R="node $W/packages/core/dist/bin/reprise.js"
LUA=${LUA:?set LUA to an unpacked lua5.4 source tree (scripts/fetch-fixture-sources.sh)}
T=$(mktemp -d /tmp/miss-lua-XXXXXX); cp -a "$LUA" $T/src; cd $T/src
hz=$(getconf CLK_TCK)
cc="gcc -std=gnu99"
case $mode in
  ccache) export CCACHE_DIR=$T/ccache; cc="ccache gcc -std=gnu99" ;;
  reprise*) export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run; cc="$N gcc -std=gnu99"
    if [ $mode = reprise-restart ]; then $N --start-server >/dev/null 2>&1; make -j2 CC="$cc" linux >/dev/null 2>&1; make clean >/dev/null 2>&1; $R --clear >/dev/null 2>&1; $R --stop-server >/dev/null 2>&1; fi
    if [ -n "$PROF" ]; then mkdir -p $REPRISE_RUNTIME_DIR; chmod 700 $REPRISE_RUNTIME_DIR; (node --cpu-prof --cpu-prof-dir=$PROF $W/packages/core/dist/daemon/entry.js 2>>$T/daemon.log &); for i in $(seq 100); do ls -d $REPRISE_RUNTIME_DIR/tmp-* >/dev/null 2>&1 && break; sleep 0.1; done
    else $N --start-server >/dev/null 2>&1; fi
    pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//')
    # The daemon's start counts (a cold build's first call starts it), except for reprise-warm's daemon.
    start=$(awk '{print $14+$15+$16+$17}' /proc/$pid/stat); [ $mode = reprise-warm ] && start=0
    if [ $mode = reprise-warm ]; then make -j2 CC="$cc" linux >/dev/null 2>&1; make clean >/dev/null 2>&1; $R --clear >/dev/null 2>&1; sleep 2; fi
    tot() { local h=0 hp; hp=$(pgrep -P $pid -f -- --spawn-helper | head -1); [ -n "$hp" ] && h=$(awk '{print $14+$15+$16+$17}' /proc/$hp/stat 2>/dev/null || echo 0); echo $(( $(awk '{print $14+$15+$16+$17}' /proc/$pid/stat) + h )); }
    own() { awk '{print $14+$15+$16+$17}' /proc/$pid/stat; }
    t0=$(( $(tot) - start )); o0=$(( $(own) - start )) ;;
esac
c=$(bash -c "make -j2 CC='$cc' linux >/dev/null 2>&1; times" | tail -1 | sed 's/[ms]/ /g' | awk '{print $1*60+$2+$3*60+$4}')
[ -x src/lua ] || { echo "$label: build failed"; exit 1; }
if [[ $mode = reprise* ]]; then
  t1=$(tot); o1=$(own); sleep 3; prev=-1; for i in $(seq 300); do sleep 1; cur=$(tot); [ "$cur" = "$prev" ] && break; prev=$cur; done
  st=$($R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const s=JSON.parse(t).stats;console.log("misses",s.misses,"hits",s.hitsDirect+s.hitsPreprocessor)})')
  $R --stop-server >/dev/null 2>&1
  printf "%s cpu %.2f s (make %.2f + daemon %.2f + launcher with the compiles %.2f) idle after %.2f; %s\n" $label $(echo "$c + ($t1 - $t0)/$hz" | bc -l) $c $(echo "($o1-$o0)/$hz" | bc -l) $(echo "($t1-$t0-$o1+$o0)/$hz" | bc -l) $(echo "($cur-$t1)/$hz" | bc -l) "$st"
else
  printf "%s cpu %.2f s\n" $label $c
fi
cd /; rm -rf $T

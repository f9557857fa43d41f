#!/bin/bash
# The daemon's CPU per cold miss, apart from the compiles: N sequential misses of one libuv test file
# (test/test-tcp-open.c, 197 files read), each a distinct source (a unique declaration appended; written
# 3 s before, so none is "racy"), through the native client, with a daemon started beforehand.
# Prints the clients' CPU per call, the daemon's own CPU per miss while the calls run (its compiles run
# in the launcher, not counted here), and its CPU per miss once idle (hit-index entries and
# fallback copies; the copies' preprocessing runs in the launcher, not counted here).
# usage: 2026-12-06-miss-cpu2-loop.sh [N]   env: W=checkout (default: this one), LIBUV=libuv1 source tree
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; n=${1:-100}
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree (e.g. apt-get source libuv1 with a deb-src list)}
T=$(mktemp -d /tmp/miss-loop-XXXXXX); cd $T; export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
cp -a $LIBUV/include $LIBUV/test/test-tcp-open.c $LIBUV/test/task.h $LIBUV/test/runner*.h .
F="-D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_POSIX_C_SOURCE=200112 -Iinclude -fvisibility=hidden -Wstrict-prototypes -Wextra -Wall -Wno-unused-parameter -fno-strict-aliasing -std=gnu90"
for i in $(seq 0 $n); do { cat test-tcp-open.c; echo "int unique_$i;"; } > t$i.c; done; sleep 3
$N --start-server >/dev/null 2>&1
pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//')
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
$N cc $F -MD -MT o.o -MF o.d -o o.o -c t0.c   # the compiler's identity and the system headers, hashed once
a=$(cpu)
cl=$(bash -c "for i in \$(seq $n); do $N cc $F -MD -MT o.o -MF o.d -o o.o -c t\$i.c; done; times" | tail -1 | sed 's/[ms]/ /g' | awk '{print $1*60+$2+$3*60+$4}')
b=$(cpu); hz=$(getconf CLK_TCK)
echo "client CPU per call: $(echo "$cl*1000/$n" | bc -l | cut -c1-5) ms"
echo "daemon CPU per miss: $(echo "($b-$a)*1000/$hz/$n" | bc -l | cut -c1-5) ms"
sleep 3; prev=-1; for i in $(seq 120); do sleep 1; cur=$(cpu); [ "$cur" = "$prev" ] && break; prev=$cur; done
echo "daemon CPU per miss once idle: $(echo "($cur-$b)*1000/$hz/$n" | bc -l | cut -c1-5) ms"
$N --stop-server >/dev/null 2>&1; cd /; rm -rf $T

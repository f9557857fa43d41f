#!/bin/bash
# The daemon's system calls over N cold misses of libuv's test/test-tcp-open.c (as 2026-12-06-miss-cpu2-loop.sh),
# counted by `strace -c -f` attached to a running daemon (its threads included, not the compiles).
# usage: 2026-12-06-miss-serve-strace.sh [N]   env: W=checkout (default: this one), LIBUV=libuv1 source tree
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; n=${1:-30}
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree}
T=$(mktemp -d /tmp/miss-serve-strace-XXXXXX); cd $T; export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
cp -a $LIBUV/include $LIBUV/test/test-tcp-open.c $LIBUV/test/task.h $LIBUV/test/runner*.h .
F="-D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_POSIX_C_SOURCE=200112 -Iinclude -fvisibility=hidden -Wstrict-prototypes -Wextra -Wall -Wno-unused-parameter -fno-strict-aliasing -std=gnu90"
for i in $(seq 0 $n); do { cat test-tcp-open.c; echo "int unique_$i;"; } > t$i.c; done; sleep 3
$N --start-server >/dev/null 2>&1
pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//')
$N cc $F -MD -MT o.o -MF o.d -o o.o -c t0.c; sleep 1
strace -c -f -p $pid -o $T/strace.txt & st=$!; sleep 1
for i in $(seq $n); do $N cc $F -MD -MT o.o -MF o.d -o o.o -c t$i.c; done
sleep 2; kill -INT $st; wait $st; cat $T/strace.txt
$N --stop-server >/dev/null 2>&1; cd /; rm -rf $T

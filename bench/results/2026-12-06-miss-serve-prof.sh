#!/bin/bash
# A `--cpu-prof` profile of the daemon over N sequential cold misses of libuv's test/test-tcp-open.c (as
# 2026-12-06-miss-cpu2-loop.sh, but the daemon started by hand under the profiler); read it with
# 2026-12-06-miss-cpu4-prof.mjs. The profiler inflates totals: use it for shares.
# usage: 2026-12-06-miss-serve-prof.sh PROFDIR [N]   env: W=checkout (default: this one), LIBUV=libuv1 source tree
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; PROF=${1:?profile dir}; n=${2:-100}
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree}
T=$(mktemp -d /tmp/miss-serve-prof-XXXXXX); cd $T; export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
cp -a $LIBUV/include $LIBUV/test/test-tcp-open.c $LIBUV/test/task.h $LIBUV/test/runner*.h .
F="-D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_POSIX_C_SOURCE=200112 -Iinclude -fvisibility=hidden -Wstrict-prototypes -Wextra -Wall -Wno-unused-parameter -fno-strict-aliasing -std=gnu90"
for i in $(seq 0 $n); do { cat test-tcp-open.c; echo "int unique_$i;"; } > t$i.c; done; sleep 3
mkdir -p $REPRISE_RUNTIME_DIR; chmod 700 $REPRISE_RUNTIME_DIR
(node --cpu-prof --cpu-prof-dir=$PROF $W/packages/core/dist/daemon/entry.js 2>>$T/daemon.log &)
for i in $(seq 300); do ls -d $REPRISE_RUNTIME_DIR/tmp-* >/dev/null 2>&1 && break; sleep 0.1; done
$N cc $F -MD -MT o.o -MF o.d -o o.o -c t0.c
echo "first miss done at $(date +%s.%N)"
for i in $(seq $n); do $N cc $F -MD -MT o.o -MF o.d -o o.o -c t$i.c; done
sleep 3; $N --stop-server >/dev/null 2>&1; sleep 1; cd /; rm -rf $T

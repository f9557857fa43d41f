#!/bin/bash
# The daemon's CPU per cold miss (as 2026-12-06-miss-cpu2-loop.sh: N sequential misses of libuv's
# test/test-tcp-open.c, each a distinct source), with the daemon started by hand so that node/V8 flags can be
# given to it (DAEMON_FLAGS, e.g. --no-opt), and its main thread's CPU apart from its other threads (V8's
# background compiler and GC helpers, libuv's pool). Prints one line: flags, load, CPU per miss while the
# calls run (all threads / main thread), once idle.
# usage: 2026-12-06-miss-serve-loop.sh [N]   env: W=checkout (default: this one), LIBUV=libuv1 source tree, DAEMON_FLAGS,
#   WARMUP=k: k more misses before the measured ones (a daemon past its JIT warm-up)
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; n=${1:-100}
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree}
T=$(mktemp -d /tmp/miss-serve-loop-XXXXXX); cd $T; export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
cp -a $LIBUV/include $LIBUV/test/test-tcp-open.c $LIBUV/test/task.h $LIBUV/test/runner*.h .
F="-D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_POSIX_C_SOURCE=200112 -Iinclude -fvisibility=hidden -Wstrict-prototypes -Wextra -Wall -Wno-unused-parameter -fno-strict-aliasing -std=gnu90"
w=${WARMUP:-0}; for i in $(seq 0 $((n + w))); do { cat test-tcp-open.c; echo "int unique_$i;"; } > t$i.c; done; sleep 3
mkdir -p $REPRISE_RUNTIME_DIR; chmod 700 $REPRISE_RUNTIME_DIR
(node $DAEMON_FLAGS $W/packages/core/dist/daemon/entry.js 2>>$T/daemon.log &)
for i in $(seq 300); do ls -d $REPRISE_RUNTIME_DIR/tmp-* >/dev/null 2>&1 && break; sleep 0.1; done
pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//')
main() { awk '{print $14+$15}' /proc/$pid/task/$pid/stat; }
$N cc $F -MD -MT o.o -MF o.d -o o.o -c t0.c   # the compiler's identity and the system headers, hashed once
for i in $(seq $((n + 1)) $((n + w))); do $N cc $F -MD -MT o.o -MF o.d -o o.o -c t$i.c; done
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
if [ $w -gt 0 ]; then sleep 3; prev=-1; for i in $(seq 120); do sleep 1; cur=$(cpu); [ "$cur" = "$prev" ] && break; prev=$cur; done; fi   # the warm-up's idle work done
a=$(cpu); am=$(main); l=$(cut -d' ' -f1 /proc/loadavg)
for i in $(seq $n); do $N cc $F -MD -MT o.o -MF o.d -o o.o -c t$i.c; done
b=$(cpu); bm=$(main); hz=$(getconf CLK_TCK)
sleep 3; prev=-1; for i in $(seq 120); do sleep 1; cur=$(cpu); [ "$cur" = "$prev" ] && break; prev=$cur; done
printf '%-28s warmup %3s load %5s  per miss %6.2f ms (main thread %6.2f)  once idle %5.2f ms\n' "${DAEMON_FLAGS:-(default)}" $w $l \
  $(echo "($b-$a)*1000/$hz/$n" | bc -l) $(echo "($bm-$am)*1000/$hz/$n" | bc -l) $(echo "($cur-$b)*1000/$hz/$n" | bc -l)
$N --stop-server >/dev/null 2>&1; cd /; rm -rf $T

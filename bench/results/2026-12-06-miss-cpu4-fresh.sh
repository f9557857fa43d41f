#!/bin/bash
# A fresh daemon whose cache directory an earlier daemon used (what it remembers across restarts is there), and
# its first three cold misses of libuv's test-tcp-open.c (197 files read): the daemon's CPU for its start and
# those misses, three times. usage: 2026-12-06-miss-cpu4-fresh.sh; env: W=checkout (default: this one), LIBUV=libuv1 tree
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree (e.g. apt-get source libuv1 with a deb-src list)}
T=$(mktemp -d /tmp/miss-fresh-XXXXXX); cd $T; export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
cp -a $LIBUV/include $LIBUV/test/test-tcp-open.c $LIBUV/test/task.h $LIBUV/test/runner*.h .
F="-D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_POSIX_C_SOURCE=200112 -Iinclude -fvisibility=hidden -Wstrict-prototypes -Wextra -Wall -Wno-unused-parameter -fno-strict-aliasing -std=gnu90"
for i in $(seq 0 20); do { cat test-tcp-open.c; echo "int unique_$i;"; } > t$i.c; done; sleep 3
$N cc $F -MD -MT o.o -MF o.d -o o.o -c t0.c; $N --stop-server >/dev/null 2>&1
hz=$(getconf CLK_TCK)
for round in 1 2 3; do
  $N --start-server >/dev/null 2>&1
  pid=$(ls -d $REPRISE_RUNTIME_DIR/tmp-* | sed 's/.*tmp-//')
  for i in 1 2 3; do $N cc $F -MD -MT o.o -MF o.d -o o.o -c t$((round*3+i)).c; done
  c=$(awk '{print $14+$15}' /proc/$pid/stat)
  echo "fresh daemon, start + 3 misses: $(echo "$c*1000/$hz" | bc) ms"
  $N --stop-server >/dev/null 2>&1
done
ls -la $REPRISE_DIR/*.json | awk '{print $5, $9}'
cd /; rm -rf $T

#!/bin/bash
# strace of a kept daemon (all its threads) over one lua5.4 cold build (after a warm-up): <out>.during.log, then over 12 s of its idle
# work: <out>.after.log. (For counts only: strace -c -f -p in place of the first strace.)
# usage: strace.sh <checkout> <fixtures dir> <out prefix>
set -e
dir=$1; fx=$2; out=$3
work=$(mktemp -d /tmp/cl6-st-XXXX); rt=$(mktemp -d /tmp/cl6sr-XXXX); chmod 700 $rt
cp -a $fx/lua5.4 $work/tree
export LC_ALL=C REPRISE_DIR=$work/cache REPRISE_RUNTIME_DIR=$rt REPRISE_IDLE_TIMEOUT=900
unset MAKEFLAGS NODE_OPTIONS
CC="$dir/packages/core/dist/native/reprise-native gcc -std=gnu99"
cd $work/tree
make -j2 CC="$CC" linux >/dev/null 2>&1; sleep 8
pid=$(for p in /proc/[0-9]*; do if tr '\0' '\n' < $p/environ 2>/dev/null | grep -qx "REPRISE_RUNTIME_DIR=$rt" && head -c 200 $p/cmdline | tr '\0' ' ' | grep -v spawn-helper | grep -q node; then basename $p; fi; done | head -1)
node $dir/packages/core/dist/bin/reprise.js --clear >/dev/null; make clean >/dev/null
strace -f -tt -p $pid -o $out.during.log 2>/dev/null & sp=$!; sleep 1
make -j2 CC="$CC" linux >/dev/null 2>&1
kill -INT $sp; wait $sp || true
strace -f -p $pid -o $out.after.log 2>/dev/null & sp=$!
sleep 12; kill -INT $sp; wait $sp || true
node $dir/packages/core/dist/bin/reprise.js --stop-server >/dev/null
rm -rf $work $rt

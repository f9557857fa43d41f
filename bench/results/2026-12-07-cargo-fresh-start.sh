#!/bin/bash
# (cargo-fresh) a fresh daemon started by --start-server; its CPU (schedstat, ms) 1.5 s later: its start-up alone.
# start a fresh daemon and print its CPU (all threads, ms) once started
CF=${CF:-/tmp/cf}  # its work folder (cargo-fresh2: CF=/tmp/cf2)
REPO=$1; TAG=$2
export REPRISE_DIR=$CF/cache-$TAG REPRISE_RUNTIME_DIR=$CF/rts-$TAG REPRISE_PLUGINS=$REPO/packages/plugin-rustc/dist/bundle/index.js REPRISE_IDLE_TIMEOUT=900
mkdir -p -m 700 $REPRISE_RUNTIME_DIR
N=$REPO/packages/core/dist/native/reprise-native
$N --start-server >/dev/null 2>&1
sleep 1.5
pid=$(ls $REPRISE_RUNTIME_DIR | grep -o 'tmp-[0-9]*' | head -1 | cut -c5-)
main=0; other=0; for t in /proc/$pid/task/*; do v=$(awk '{print $1/1e6}' $t/schedstat); if [ $(basename $t) = $pid ]; then main=$v; else other=$(echo "$other+$v"|bc); fi; done
echo "$TAG main $main other $other load $(cut -d' ' -f1 /proc/loadavg)"
$N --stop-server >/dev/null 2>&1

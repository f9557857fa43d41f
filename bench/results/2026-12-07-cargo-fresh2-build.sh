#!/bin/bash
# (cargo-fresh2) One fresh-daemon cold cargo build of a workspace copy at /tmp/cf2/ws
# (scripts/setup-rust-fixtures.sh /tmp/cf2/ws): a first build fills the cache (toolchain digests
# persisted), then --clear, --stop-server, and the measured build through the native client;
# prints the daemon's threads' CPU (schedstat, ms). usage: build.sh REPO TAG [node options]
REPO=$1; TAG=$2; NOPT=$3
export PATH=/root/.cargo/bin:$PATH CARGO_HOME=/tmp/cf2/cargo-home CARGO_BUILD_JOBS=2 CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
export REPRISE_DIR=/tmp/cf2/cache-$TAG REPRISE_RUNTIME_DIR=/tmp/cf2/rt-$TAG REPRISE_PLUGINS=$REPO/packages/plugin-rustc/dist/bundle/index.js REPRISE_IDLE_TIMEOUT=900
N=$REPO/packages/core/dist/native/reprise-native
mkdir -p -m 700 $REPRISE_RUNTIME_DIR
cd /tmp/cf2/ws
if [ ! -d $REPRISE_DIR ]; then cargo clean -q; RUSTC_WRAPPER=$N cargo build -q 2>&1 | tail -2; fi
$N --clear >/dev/null; $N --stop-server >/dev/null
cargo clean -q
if [ -n "$NOPT" ]; then export NODE_OPTIONS="$NOPT"; fi
RUSTC_WRAPPER=$N cargo build -q 2>&1 | tail -2
unset NODE_OPTIONS
pid=$(ls $REPRISE_RUNTIME_DIR | grep -o 'tmp-[0-9]*' | head -1 | cut -c5-)
echo "daemon pid $pid"; for t in /proc/$pid/task/*; do echo "$(cat $t/comm | tr ' ' _) $(awk '{print $1/1e6}' $t/schedstat)"; done
$N --show-stats --json | node -e 'const s=JSON.parse(require("fs").readFileSync(0)).stats; console.log("hits",s.hitsDirect+s.hitsPreprocessor,"misses",s.misses, JSON.stringify(s.notCacheable))'
$N --stop-server >/dev/null

#!/bin/bash
# (cargo-fresh, session 12) One fresh-daemon cold cargo build of a workspace copy at $CF/ws (default /tmp/cf; scripts/setup-rust-fixtures.sh $CF/ws); a first build fills the cache (toolchain digests persisted), then --clear, --stop-server, and the measured build; prints the daemon's threads' CPU (schedstat, ms).
# usage: prof.sh REPO TAG [preload]
CF=${CF:-/tmp/cf}  # its work folder (cargo-fresh2: CF=/tmp/cf2)
REPO=$1; TAG=$2; PRE=$3
export PATH=/root/.cargo/bin:$PATH CARGO_HOME=$CF/cargo-home CARGO_BUILD_JOBS=2 CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
export REPRISE_DIR=$CF/cache-$TAG REPRISE_RUNTIME_DIR=$CF/rt-$TAG REPRISE_PLUGINS=$REPO/packages/plugin-rustc/dist/bundle/index.js REPRISE_IDLE_TIMEOUT=900
N=$REPO/packages/core/dist/native/reprise-native
mkdir -p -m 700 $REPRISE_RUNTIME_DIR
cd $CF/ws
if [ ! -d $REPRISE_DIR ]; then cargo clean -q; RUSTC_WRAPPER=$N cargo build -q 2>&1 | tail -2; fi
$N --clear >/dev/null; $N --stop-server >/dev/null
cargo clean -q
if [ -n "$PRE" ]; then export NODE_OPTIONS="--require $PRE" PROF_OUT=$CF/prof-$TAG; fi
RUSTC_WRAPPER=$N cargo build -q 2>&1 | tail -2
unset NODE_OPTIONS
pid=$(ls $REPRISE_RUNTIME_DIR | grep -o 'tmp-[0-9]*' | head -1 | cut -c5-)
# The main thread first (the glob sorts thread ids as text).
echo "daemon pid $pid"; for t in /proc/$pid/task/$pid $(ls -d /proc/$pid/task/* | grep -v "/task/$pid\$"); do echo "$(cat $t/comm) $(awk '{print $1/1e6}' $t/schedstat)"; done
$N --show-stats --json | node -e 'const s=JSON.parse(require("fs").readFileSync(0)).stats; console.log("hits",s.hitsDirect+s.hitsPreprocessor,"misses",s.misses, JSON.stringify(s.notCacheable))'
$N --stop-server >/dev/null

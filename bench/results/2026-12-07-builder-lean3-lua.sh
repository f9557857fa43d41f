#!/bin/bash
# The builder's side of farm jobs on lua5.4 (2026-12-06-farm-builder-libuv.sh's method on a second project): CPU of
# a bwrap builder (its Node process and every job process, counted by a cpuacct cgroup) per job of a cold
# `make linux` through the farm, against the CPU of the same compiles run plainly one after another (make -n's
# compile lines), before and after. The builder holds the toolchain and the system headers first (a warm-up build
# of another copy, with its own cache dir).
# usage: 2026-12-07-builder-lean3-lua.sh; LUA=lua5.4 source tree (.fixtures/lua5.4), W=checkout (default: this one).
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; R="node $W/packages/core/dist/bin/reprise.js"
LUA=${LUA:?set LUA to an unpacked lua5.4 source tree (scripts/fetch-fixture-sources.sh)}
T=$(mktemp -d /tmp/farm-builder-lua-XXXXXX)
CG=/sys/fs/cgroup/cpuacct; [ -w $CG ] || CG=/sys/fs/cgroup; CG=$CG/farm-builder-lua-$$
mkdir $CG || { echo "cannot make a cgroup under /sys/fs/cgroup (root and cgroup v1 cpuacct or v2 cpu.stat needed)"; exit 1; }
trap 'kill $farm 2>/dev/null; wait $farm 2>/dev/null; cd /; rm -rf $T; rmdir $CG 2>/dev/null' EXIT
node_ms() { local ns=0; for t in /proc/$builder/task/*/schedstat; do ns=$((ns + $(cut -d' ' -f1 $t))); done; echo "$ns / 1000000" | bc -l; }
cpu_ms() { if [ -f $CG/cpuacct.usage ]; then echo "$(cat $CG/cpuacct.usage) / 1000000" | bc -l; else echo "$(awk '/usage_usec/ {print $2}' $CG/cpu.stat) / 1000" | bc -l; fi; }
times_ms() { tail -1 | sed 's/[ms]/ /g' | awk '{print ($1*60+$2+$3*60+$4)*1000}'; }
node $W/packages/dist/dist/bin/reprise-dist.js local-farm --builders 1 > $T/exports 2>$T/farm.log & farm=$!
for i in $(seq 600); do grep -q REPRISE_DIST_TOKEN $T/exports 2>/dev/null && break; sleep 0.2; done
source $T/exports || { echo "local-farm did not start: $(tail -3 $T/farm.log)"; exit 1; }
builder=$(pgrep -P $farm -f -- ' builder ' | head -1); [ -n "$builder" ] || { echo "no builder process"; exit 1; }
echo $builder > $CG/cgroup.procs
export REPRISE_DIST_MODE=always
build() { cp -a "$LUA" $1; cd $1; bash -c "make -j2 CC='$2 gcc -std=gnu99' linux >/dev/null 2>&1; times" | times_ms; }
REPRISE_DIR=$T/warm-cache REPRISE_RUNTIME_DIR=$T/warm-run build $T/warm $N >/dev/null
REPRISE_DIR=$T/warm-cache REPRISE_RUNTIME_DIR=$T/warm-run $R --stop-server >/dev/null 2>&1
# Plain: make -n's compile lines, run one after another in the tree, before and after the farm build.
cp -a "$LUA" $T/plain; (cd $T/plain/src && make -n CC="gcc -std=gnu99" linux | grep -E '^gcc .* -c ' > $T/plain/commands.sh)
compiles=$(wc -l < $T/plain/commands.sh)
plain_cpu() { (cd $T/plain/src && rm -f *.o && bash -c "bash $T/plain/commands.sh >/dev/null 2>&1; times" | times_ms); }
plain1=$(plain_cpu)
export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
$N --start-server >/dev/null 2>&1
b0=$(cpu_ms); n0=$(node_ms)
build $T/farm $N >/dev/null
for i in $(seq 60); do sleep 1; b1=$(cpu_ms); n1=$(node_ms); [ "${prev:-}" = "$b1" ] && break; prev=$b1; done
jobs=$($R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const s=JSON.parse(t).stats;console.log(s.remote?.farm?.compiles ?? 0, s.misses, JSON.stringify(s.fallbacks))})')
$R --stop-server >/dev/null 2>&1
plain2=$(plain_cpu)
set -- $jobs
plain=$(echo "($plain1 + $plain2) / 2" | bc -l)
printf "lua5.4: %s of %s misses on the farm (fallbacks %s); builder CPU %.0f ms (%.1f per job, of which its Node process %.1f); %s plain compiles %.0f and %.0f ms before and after (%.1f per compile); builder/plain %.2fx\n" \
  $1 $2 "$3" $(echo "$b1 - $b0" | bc -l) $(echo "($b1 - $b0) / $1" | bc -l) $(echo "($n1 - $n0) / $1" | bc -l) $compiles $plain1 $plain2 $(echo "$plain / $compiles" | bc -l) $(echo "($b1 - $b0) / $1 / ($plain / $compiles)" | bc -l)

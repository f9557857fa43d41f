#!/bin/bash
# The builder's side of farm jobs on libuv: CPU of a bwrap builder (its Node process and every job process it
# waited for) per job of a cold CMake build of one target through the farm, against the CPU of the same compiles
# run plainly, one after another, from compile_commands.json (not make's tree: CMake's own steps, the depend
# scans and the links, run on the client, never on a builder). The issue's goal: <= 1.2x.
# The builder already holds the toolchain and the system headers (a warm-up build of another target first,
# in its own cache dir), as a farm in use does.
# usage: 2026-12-06-farm-builder-libuv.sh [make target, default uv_run_tests_a]; LIBUV=libuv1 source tree,
# W=checkout (default: this one).
target=${1:-uv_run_tests_a}
W=${W:-$(cd "$(dirname "$0")/../.." && pwd)}; N=$W/packages/core/dist/native/reprise-native; R="node $W/packages/core/dist/bin/reprise.js"
LIBUV=${LIBUV:?set LIBUV to an unpacked libuv1 source tree (e.g. apt-get source libuv1 with a deb-src list)}
T=$(mktemp -d /tmp/farm-builder-XXXXXX); trap 'kill $farm 2>/dev/null; wait $farm 2>/dev/null; cd /; rm -rf $T' EXIT
hz=$(getconf CLK_TCK)
# The builder's CPU comes from a cpuacct cgroup holding it: a compile inside bwrap's pid namespace is reaped by the
# sandbox's init, and its CPU never reaches the builder's children times (checked: a busy loop in bwrap shows 0 s).
CG=/sys/fs/cgroup/cpuacct; [ -w $CG ] || CG=/sys/fs/cgroup; CG=$CG/farm-builder-$$
mkdir $CG || { echo "cannot make a cgroup under /sys/fs/cgroup (root and cgroup v1 cpuacct or v2 cpu.stat needed)"; exit 1; }
trap 'kill $farm 2>/dev/null; wait $farm 2>/dev/null; cd /; rm -rf $T; rmdir $CG 2>/dev/null' EXIT
node_ms() { local ns=0; for t in /proc/$builder/task/*/schedstat; do ns=$((ns + $(cut -d' ' -f1 $t))); done; echo "$ns / 1000000" | bc -l; }
cpu_ms() { if [ -f $CG/cpuacct.usage ]; then echo "$(cat $CG/cpuacct.usage) / 1000000" | bc -l; else echo "$(awk '/usage_usec/ {print $2}' $CG/cpu.stat) / 1000" | bc -l; fi; }
node $W/packages/dist/dist/bin/reprise-dist.js local-farm --builders 1 > $T/exports 2>$T/farm.log & farm=$!
for i in $(seq 600); do grep -q REPRISE_DIST_TOKEN $T/exports 2>/dev/null && break; sleep 0.2; done
source $T/exports || { echo "local-farm did not start: $(tail -3 $T/farm.log)"; exit 1; }
builder=$(pgrep -P $farm -f -- ' builder ' | head -1); [ -n "$builder" ] || { echo "no builder process"; exit 1; }
echo $builder > $CG/cgroup.procs # its jobs, started from now on, are in the cgroup too
export REPRISE_DIST_MODE=always
build() { # $1 dir, $2 target, $3 launcher (or empty); prints make's CPU in ms
  cp -a "$LIBUV" $1/src 2>/dev/null || cp -a "$LIBUV" $1/src; mkdir -p $1/b; cd $1/b
  cmake -S $1/src -B . -DCMAKE_EXPORT_COMPILE_COMMANDS=ON ${3:+-DCMAKE_C_COMPILER_LAUNCHER=$3} >/dev/null 2>&1 || { echo "cmake failed" >&2; exit 1; }
  bash -c "make -j2 $2 >/dev/null 2>&1; times" | tail -1 | sed 's/[ms]/ /g' | awk '{print ($1*60+$2+$3*60+$4)*1000}'
}
# Warm-up: toolchain and system headers onto the builder.
mkdir -p $T/warm; REPRISE_DIR=$T/warm-cache REPRISE_RUNTIME_DIR=$T/warm-run build $T/warm uv_a $N >/dev/null
REPRISE_DIR=$T/warm-cache REPRISE_RUNTIME_DIR=$T/warm-run $R --stop-server >/dev/null 2>&1
# Plain first (see below), then through the farm, cold cache.
mkdir -p $T/plain; build $T/plain help "" >/dev/null
node -e '
  const path = require("node:path");
  const out = (c) => c.output ?? / -o (\S+)/.exec(c.command)[1];
  const cmds = require(process.argv[1]).filter((c) => /CMakeFiles\/(uv_a|'"$target"')\.dir\//.test(out(c)));
  for (const c of cmds) console.log(`cd ${c.directory} && mkdir -p ${path.dirname(path.resolve(c.directory, out(c)))} && ${c.command}`);' $T/plain/b/compile_commands.json > $T/plain/commands.sh
compiles=$(wc -l < $T/plain/commands.sh)
plain1=$(bash -c "bash $T/plain/commands.sh >/dev/null 2>&1; times" | tail -1 | sed 's/[ms]/ /g' | awk '{print ($1*60+$2+$3*60+$4)*1000}')
# Through the farm, cold cache.
export REPRISE_DIR=$T/cache REPRISE_RUNTIME_DIR=$T/run
$N --start-server >/dev/null 2>&1
b0=$(cpu_ms); n0=$(node_ms)
mkdir -p $T/farm; build $T/farm $target $N >/dev/null
for i in $(seq 60); do sleep 1; b1=$(cpu_ms); n1=$(node_ms); [ "${prev:-}" = "$b1" ] && break; prev=$b1; done
jobs=$($R --show-stats --json 2>/dev/null | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const s=JSON.parse(t).stats;console.log(s.remote?.farm?.compiles ?? 0, s.misses, JSON.stringify(s.fallbacks))})')
$R --stop-server >/dev/null 2>&1
# Plain: the target's compile commands, one after another (their own CPU and their children's), run before and
# after the farm build: on a shared machine the same compiles' CPU moves with the load.
plain_cpu() { bash -c "bash $T/plain/commands.sh >/dev/null 2>&1; times" | tail -1 | sed 's/[ms]/ /g' | awk '{print ($1*60+$2+$3*60+$4)*1000}'; }
plain2=$(plain_cpu)
set -- $jobs
plain=$(echo "($plain1 + $plain2) / 2" | bc -l)
printf "target %s: %s of %s misses on the farm (fallbacks %s); builder CPU %.0f ms (%.1f per job, of which its Node process %.1f); %s plain compiles %.0f and %.0f ms before and after (%.1f per compile); builder/plain %.2fx\n" \
  $target $1 $2 "$3" $(echo "$b1 - $b0" | bc -l) $(echo "($b1 - $b0) / $1" | bc -l) $(echo "($n1 - $n0) / $1" | bc -l) $compiles $plain1 $plain2 $(echo "$plain / $compiles" | bc -l) $(echo "($b1 - $b0) / $plain" | bc -l)

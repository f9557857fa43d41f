#!/bin/bash
# 2026-12-06-farm-builder-libuv.sh with `strace -f -w -c` attached to the builder's Node process (all its threads)
# for the measured build only (the warm-up left out). Same arguments and environment (LIBUV=, W=); STRACE_OUT= names
# the summary (default /tmp/builder-strace.txt). The CPU figures it prints are inflated by strace: count calls only.
here=$(cd "$(dirname "$0")" && pwd)
script=$(mktemp /tmp/farm-builder-strace-XXXXXX.sh); trap 'rm -f $script' EXIT
sed -e 's|^b0=\$(cpu_ms); n0=\$(node_ms)$|strace -f -w -c -o ${STRACE_OUT:-/tmp/builder-strace.txt} -p $builder \& st=$!; sleep 1; b0=$(cpu_ms); n0=$(node_ms)|' \
    -e 's|^jobs=\$(\$R --show-stats|kill -INT $st; wait $st; jobs=$($R --show-stats|' "$here/2026-12-06-farm-builder-libuv.sh" > "$script"
W=${W:-$(cd "$here/../.." && pwd)} bash "$script" "$@"

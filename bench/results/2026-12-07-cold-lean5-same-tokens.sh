#!/bin/bash
# usage: same-tokens.sh SOURCE_DIR CC 'FLAGS' FILE...  (e.g. lua5.4's src: . gcc '-std=gnu99 -O2 -Wall -Wextra -DLUA_COMPAT_5_3 -DLUA_USE_LINUX' *.c)
# For every source: gcc -E with and without -ftrack-macro-expansion=0; the texts must hold the same tokens
# (line markers and whitespace removed).
W=$(mktemp -d); trap 'rm -rf $W' EXIT
cd $1; shift; CC=$1; FLAGS=$2; shift 2
n=0; same=0; differ=0
for f in "$@"; do
  nice $CC $FLAGS -E $f -o $W/st-a.i 2>/dev/null || { echo "skip $f"; continue; }
  nice $CC $FLAGS -ftrack-macro-expansion=0 -E $f -o $W/st-b.i 2>/dev/null
  n=$((n+1))
  if cmp -s $W/st-a.i $W/st-b.i; then same=$((same+1)); continue; fi
  if [ "$(grep -v '^#' $W/st-a.i | tr -d ' \n\t')" = "$(grep -v '^#' $W/st-b.i | tr -d ' \n\t')" ]; then differ=$((differ+1)); else echo "TOKENS DIFFER: $f"; fi
done
echo "$n units: $same byte-identical, $differ differ only in line markers/whitespace"

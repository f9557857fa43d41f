#!/bin/bash
# usage: callgrind.sh SOURCE_DIR CC 'FLAGS' FILE...
# Instructions (callgrind, driver and cc1) of `gcc -E` with and without -ftrack-macro-expansion=0, per file; and whether the texts differ only in line markers
W=$(mktemp -d); trap 'rm -rf $W' EXIT
cd $1; shift
CC=$1; shift
FLAGS="$1"; shift
for f in "$@"; do
  r=()
  for extra in "" "-ftrack-macro-expansion=0"; do
    rm -f $W/cgE.out.*
    nice valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$W/cgE.out.%p $CC $FLAGS $extra -E $f -o $W/E$extra.i 2>/dev/null
    r+=($(grep -h "^summary:" $W/cgE.out.* | awk '{s+=$2} END {print s}'))
  done
  d=$(diff <(grep -v '^#' $W/E.i | tr -d ' \n') <(grep -v '^#' $W/E-ftrack-macro-expansion=0.i | tr -d ' \n') >/dev/null && echo tokens-same || echo TOKENS-DIFFER)
  echo "$f default ${r[0]} track0 ${r[1]} ratio $(awk -v a=${r[0]} -v b=${r[1]} 'BEGIN{printf "%.3f", b/a}') $d"
done

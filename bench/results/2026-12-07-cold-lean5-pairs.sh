#!/bin/bash
# The idle copies' preprocessing timed: lua5.4's 34 units as the text key runs them (gcc … -E -MD -MF), base argv (A) and with
# -ftrack-macro-expansion=0 (B), alternated A B A B …; user+sys CPU of each pass (GNU time over its shell), load before each.
# usage: pairs.sh LUA_SRC_DIR [PAIRS]  (a copy of .fixtures/lua5.4/src)
W=$(mktemp -d); trap 'rm -rf $W' EXIT
cd $1
for i in $(seq ${2:-6}); do
  for v in A B; do
    l=$(cut -d' ' -f1 /proc/loadavg)
    extra=""; [ $v = B ] && extra=-ftrack-macro-expansion=0
    t=$( { /usr/bin/time -f "%U %S" bash -c "for f in *.c; do gcc -std=gnu99 -O2 -Wall -Wextra -DLUA_COMPAT_5_3 -DLUA_USE_LINUX \$f $extra -E -MD -MF $W/p.d -o $W/p.i; done" ; } 2>&1 )
    echo "pair $i $v $(echo $t | awk '{printf "%.0f", ($1+$2)*1000}') ms load $l"
  done
done

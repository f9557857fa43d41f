#!/bin/bash
# A perf.data's cpu-clock samples (2000 Hz: 0.5 ms each) by thread (main: the lowest tid) and by where they ran (kernel, node's binary: V8's
# interpreter, baseline builtins, runtime and GC; JIT code; libc), plus V8's GC by symbol name.
for f in "$@"; do
perf script -i $f -F tid,ip,sym,dso 2>/dev/null | awk -v F=$f '
{ t=$1; line=$0; n++; tid[n]=t; L[n]=line; if (min=="" || t<min) min=t }
END { for (i=1;i<=n;i++) { m=(tid[i]==min)?"main":"other"; c[m]++;
    s=L[i]; k = (s ~ /kernel/)?"kernel":(s ~ /\(\/usr\/bin\/node\)/)?"node":(s ~ /JIT|perf-/)?"jit":(s ~ /libc/)?"libc":"other";
    d[m" "k]++;
    if (s ~ /Scaveng|MarkCompact|Marking|Sweep|Evacuat|v8::internal::Heap::|GCTracer|RememberedSet|SlotSet|PagedSpace|NewSpace|SemiSpace|MarkingVisitor|YoungGeneration|GlobalHandles|ArrayBufferSweeper/) g[m]++ }
  printf "%s: main %d ms (kernel %d, node %d, jit %d, libc %d; GC %d), other threads %d ms (GC %d)\n", F, c["main"]/2, d["main kernel"]/2, d["main node"]/2, d["main jit"]/2, d["main libc"]/2, g["main"]/2, c["other"]/2, g["other"]/2 }'
done

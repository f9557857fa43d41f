#!/usr/bin/env python3
# (cargo-cold4) Splits a daemon's on-CPU samples by what they were doing.
# usage: perf script -i $CF/perf-b.data --pid <daemon pid> --comm node -F tid,period,ip,sym > samples.txt
#        python3 2026-12-07-cargo-cold4-perf-split.py samples.txt [N]   (N: also the N largest stacks left "other")
# Rules match the first one in order, on the whole stack (bundle paths shortened to "d"); line numbers
# are those of main's bundle at 9e97ee5 and of this branch's (daemon.cjs): another build needs them checked.
import collections,re,sys
rules=[('hit-index: copies of lead outputs', r'copyVouchedLead|copyVerifiedLead|copyTo d:35882|copyPrivatelyAtomically|linkLead|linkOpenFile|(?=.*copyFileSync)(?=.*JS:\^blob d)'),
('hit-index: other (blobs of in-memory outputs, entry)', r'JS:\S* ?(record|index) d:4(1305|1877|1333|1909)|JS:\^blob d|writePrivateAtomically'),
('store: kernel copy into cache', r'beginCopy|copyLargestOutput'),
('store: CRC read-back', r'crc32OfFile'),
('store: gzip', r'Zlib|processCallback|JS:\S*pack d|zlib'),
('store other (encode, write)', r'JS:\S*(store|storeCopied|writeEntry|encodeEntry) d'),
('input digests', r'digestWithChangeTime|digestOf|hashInChunks|digestUnchanged|FileHashCache'),
('std re-list (addSysrootToKey)', r'listFiles|addSysrootToKey'),
('rustc args parse / key', r'parseRustcArguments|baseKey|index.js'),
('GC', r'Scavenger|MarkCompact|ConcurrentMarking|Heap::|GCTracer|Unmapper|Sweeper|v8::internal::MemoryAllocator'),
('module load / compile (startup)', r'compileForInternalLoader|Parser::|loadCachedScript|esm/|cjs/loader|Compiler::Compile'),
]
tot=0; c=collections.Counter()
for b in open(sys.argv[1]).read().split('\n\n'):
    lines=b.strip().split('\n')
    if len(lines)<2: continue
    p=int(lines[0].split()[1]); tot+=p
    st=' | '.join(l.strip().split(None,1)[-1] for l in lines[1:])
    st=re.sub(r' /work/\S*daemon.cjs',' d',st)
    for name,rx in rules:
        if re.search(rx,st): c[name]+=p; break
    else: c['other']+=p
print('total ms', tot/1e6)
for k,v in c.most_common(): print(f'{v/1e6:8.0f} ms {100*v/tot:5.1f}%  {k}')
if len(sys.argv)>2:
    o=collections.Counter()
    for b in open(sys.argv[1]).read().split('\n\n'):
        lines=b.strip().split('\n')
        if len(lines)<2: continue
        p=int(lines[0].split()[1])
        syms=[re.sub(r' /work/\S*daemon.cjs',' d',l.strip().split(None,1)[-1]) for l in lines[1:]]
        st=' | '.join(syms)
        if any(re.search(rx,st) for _,rx in rules): continue
        js=[s for s in syms if s.startswith('JS:') and ' d:' in s]
        o[' <- '.join(js[:3]) if js else ('nojs: '+' <- '.join(syms[-6:-2]))]+=p
    for k,v in o.most_common(int(sys.argv[2])): print(f'{v/1e6:6.0f} {k[:250]}')

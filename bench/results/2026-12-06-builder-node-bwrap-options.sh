#!/bin/bash
# What bwrap's own options cost: CPU of N runs of /bin/true in bwrap, from a cpuacct cgroup holding the loop,
# with the options the bwrap sandbox uses, then without one of them at a time. Root and cgroup v1 cpuacct needed.
# usage: 2026-12-06-builder-node-bwrap-options.sh (N=150 by default)
N=${N:-150}
CG=/sys/fs/cgroup/cpuacct/bwrap-options-$$
mkdir $CG || { echo "cannot make a cgroup under /sys/fs/cgroup/cpuacct"; exit 1; }
trap 'rmdir $CG' EXIT
run() { # label, bwrap options...
  local label=$1; shift
  bash -c "echo \$\$ > $CG/cgroup.procs; for i in \$(seq $N); do bwrap $* 3>/dev/null >/dev/null || exit 1; done" || { echo "$label: bwrap failed"; return; }
  local u=$(cat $CG/cpuacct.usage)
  printf "%-32s %.2f ms per run\n" "$label" "$(echo "($u - ${prev:-0}) / $N / 1000000" | bc -l)"; prev=$u
}
common="--cap-drop ALL --uid 65534 --gid 65534 --new-session --clearenv --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --dev /dev --tmpfs /tmp --remount-ro / -- /bin/true"
for round in 1 2; do
  run "as the sandbox runs jobs" --unshare-all --unshare-user --disable-userns --die-with-parent --json-status-fd 3 --proc /proc $common
  run "no network namespace" --unshare-user --unshare-ipc --unshare-pid --unshare-uts --unshare-cgroup --disable-userns --die-with-parent --json-status-fd 3 --proc /proc $common
  run "no IPC namespace" --unshare-user --unshare-net --unshare-pid --unshare-uts --unshare-cgroup --disable-userns --die-with-parent --json-status-fd 3 --proc /proc $common
  run "no cgroup, UTS namespaces" --unshare-user --unshare-net --unshare-pid --unshare-ipc --disable-userns --die-with-parent --json-status-fd 3 --proc /proc $common
  run "no proc mount" --unshare-all --unshare-user --disable-userns --die-with-parent --json-status-fd 3 $common
  run "no --disable-userns" --unshare-all --unshare-user --die-with-parent --json-status-fd 3 --proc /proc $common
  run "no --die-with-parent" --unshare-all --unshare-user --disable-userns --json-status-fd 3 --proc /proc $common
  run "no status fd" --unshare-all --unshare-user --disable-userns --die-with-parent --proc /proc $common
  run "no pid namespace, no proc" --unshare-user --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup --disable-userns --die-with-parent $common
  run "bwrap --version (exec, no sandbox)" --version
done

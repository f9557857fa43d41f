#!/usr/bin/env bash
# Proves that a fresh clone passes its own README on a fresh Debian 12 machine
# that has only Node, npm and rustup's Rust: runs the README's two commands
# (`npm run setup`, `npm run test:all`) in a clean Debian 12 root.
#
# Usage (as root): scripts/fresh-machine-check.sh [--setup-only | --default-suite] [WORKDIR]
#   (WORKDIR defaults to /var/tmp/reprise-fresh-check; --setup-only stops
#   after `npm run setup`, to look at the set-up step alone; --default-suite
#   runs `npm test` instead of `npm run test:all`, without the cross-arch suite)
#
# - WORKDIR/base: `debootstrap --variant=minbase bookworm` from the mirror this
#   machine's apt uses, with this machine's apt sources, its Node and npm
#   (Debian 12's nodejs is 18; Reprise needs 20) and a copy of ~/.cargo
#   (rustup's proxies). Made once and kept; every run starts from a fresh copy.
# - WORKDIR/root: that copy, with `git clone` of this repository's current
#   branch (committed work only) at /root/reprise.
# - The commands run in new mount and pid namespaces (every process they
#   leave is killed when they end) whose root is the fresh root (pivot_root,
#   not chroot: user namespaces, which bwrap uses, are refused in a chroot),
#   with /dev, /sys and a /proc of their own mounted, /root/.rustup bound read-only from this machine, and
#   a policy-rc.d that keeps apt from starting services (redis, nginx,
#   docker, ...), as in any container image: the tests start their own.
# - Output goes to WORKDIR/run.log; the script ends with vitest's summary and
#   the exit status of the two commands.
# Everything is in main, so that bash has read the whole script before it
# runs (editing it during a run must not change that run).
main() {
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "fresh-machine-check: run as root: sudo $0 $*" >&2; exit 1; }

commands='npm run setup && npm run test:all'
if [ "${1:-}" = --setup-only ]; then commands='npm run setup'; shift; fi
if [ "${1:-}" = --default-suite ]; then commands='npm run setup && npm test'; shift; fi
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${1:-/var/tmp/reprise-fresh-check}"
BASE="$WORK/base"
ROOT="$WORK/root"
LOG="$WORK/run.log"
mkdir -p "$WORK"

branch="$(git -C "$REPO" rev-parse --abbrev-ref HEAD)"
if [ -n "$(git -C "$REPO" status --porcelain)" ]; then
  echo "fresh-machine-check: $REPO has uncommitted changes; only committed work on $branch is checked" >&2
fi

if [ ! -f "$BASE/.reprise-base-complete" ]; then
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  if [ ! -f "$BASE/.debootstrap-complete" ]; then
    rm -rf "$BASE"
    echo "fresh-machine-check: debootstrap bookworm from $mirror" >&2
    debootstrap --variant=minbase bookworm "$BASE" "$mirror" >"$WORK/debootstrap.log" 2>&1
    touch "$BASE/.debootstrap-complete"
  fi
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$BASE/etc/apt/sources.list.d/"
    rm -f "$BASE/etc/apt/sources.list"
  fi
  # This machine's Node and npm: "a fresh machine with Node and npm".
  node_bin="$(command -v node)"
  npm_dir="$(npm root -g)/npm"
  cp "$node_bin" "$BASE/usr/bin/node"
  mkdir -p "$BASE/usr/lib/node_modules"
  cp -a "$npm_dir" "$BASE/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$BASE/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$BASE/usr/bin/npx"
  # rustup's proxies and cargo's home; the toolchains are bound read-only at run time.
  cp -a "$HOME/.cargo" "$BASE/root/.cargo"
  mkdir -p "$BASE/root/.rustup"
  printf '#!/bin/sh\nexit 101\n' >"$BASE/usr/sbin/policy-rc.d"
  chmod +x "$BASE/usr/sbin/policy-rc.d"
  touch "$BASE/.reprise-base-complete"
fi

echo "fresh-machine-check: fresh root at $ROOT, clone of $branch ($(git -C "$REPO" rev-parse --short HEAD))" >&2
rm -rf "$ROOT"
cp -a "$BASE" "$ROOT"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Where this machine reaches the npm registry through a TLS-inspecting proxy,
# Node is told about its CA (NODE_EXTRA_CA_CERTS); the root gets the same.
extra_ca=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  cp "$NODE_EXTRA_CA_CERTS" "$ROOT/etc/reprise-check-extra-ca.pem"
  extra_ca=(NODE_EXTRA_CA_CERTS=/etc/reprise-check-extra-ca.pem)
fi
git clone -q --branch "$branch" --single-branch "$REPO" "$ROOT/root/reprise"

set +e
unshare --mount --pid --fork --propagation private bash -s "$ROOT" "$HOME/.rustup" "$commands" "${extra_ca[@]}" <<'INNER' 2>&1 | tee "$LOG"
set -euo pipefail
root="$1"; rustup_home="$2"; commands="$3"; shift 3
# The root must be the root of the mount namespace, as on a machine: bwrap's
# pivot_root and podman's layer extraction refuse a plain chroot directory,
# and the kernel refuses user namespaces (bwrap --unshare-user) in a chroot.
mount --bind "$root" "$root"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t proc proc "$root/proc"
mount -t tmpfs tmpfs "$root/run"
mount --bind "$rustup_home" "$root/root/.rustup"
mount -o remount,bind,ro "$root/root/.rustup"
# First, as a user who is not root, `npm run setup` must stop at once with
# one line naming the command to run (nothing is installed yet).
chroot "$root" bash -c 'cp -r /root/reprise /tmp/as-nobody && chown -R 65534:65534 /tmp/as-nobody'
set +e
refusal="$(chroot "$root" /usr/bin/env -i HOME=/tmp PATH=/usr/bin:/bin setpriv --reuid=65534 --regid=65534 --clear-groups \
  bash -c 'cd /tmp/as-nobody && npm run setup --silent' 2>&1)"
refused=$?
set -e
rm -rf "$root/tmp/as-nobody"
echo "fresh-machine-check: as a user, npm run setup exited with $refused: $refusal"
if [ "$refused" = 0 ] || [ "$(printf '%s\n' "$refusal" | wc -l)" != 1 ] || ! printf '%s' "$refusal" | grep -q 'run: sudo npm run setup'; then
  echo "fresh-machine-check: FAILED: as a user, npm run setup must stop with one line naming the command to run" >&2
  exit 1
fi
# bash stays pid 1 (the "; exit" keeps it from exec-ing npm) and reaps the
# processes orphaned to it, as init does: a daemon a test kills must not
# linger as a zombie whose pid still looks alive to the next daemon's lock.
cd "$root"
pivot_root . mnt
cd /
umount -l /mnt
exec /usr/bin/env -i HOME=/root TERM=dumb "$@" \
  PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c "cd /root/reprise && $commands; exit \$?"
INNER
status=${PIPESTATUS[0]}
set -e
echo "----" >&2
grep -E "^ *(Test Files|Tests|Duration) " "$LOG" | tail -3 >&2 || true
echo "fresh-machine-check: $commands exited with $status (log: $LOG)" >&2
exit "$status"
}
main "$@"

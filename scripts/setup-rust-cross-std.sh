#!/usr/bin/env bash
# Debian's rustc with the aarch64 standard library beside it, without
# installing any arm64 package: the x86_64 builder of the cross-architecture
# suite (test/cross-arch/rust.test.ts, docs/cross-arch.md) declares it to take
# an aarch64 client's crates.
#
# `apt-get download libstd-rust-dev:arm64 libstd-rust-1.63:arm64` of the
# version of the installed `rustc` package, unpacked with `dpkg-deb -x`, laid
# out as a sysroot:
#   SYSROOT/bin/rustc                                  a copy of /usr/bin/rustc
#                                                     (rustc finds its sysroot from
#                                                     its own path; its libraries
#                                                     stay in /usr/lib/x86_64-linux-gnu)
#   SYSROOT/lib/rustlib/aarch64-unknown-linux-gnu/lib  the arm64 std
#   SYSROOT/lib/aarch64-linux-gnu                      its shared libstd/libtest, which
#                                                     the std directory links to (they
#                                                     count in the std's digest, as on a
#                                                     machine where both are installed)
# A machine where `libstd-rust-dev:arm64` is installed needs none of this:
# /usr/bin/rustc then holds both targets.
#
# Cached under $REPRISE_FIXTURE_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/reprise-fixtures);
# idempotent; prints SYSROOT. Needs Debian's arm64 architecture enabled (npm run setup).
set -euo pipefail
CACHE="${REPRISE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprise-fixtures}"
log() { echo "setup-rust-cross-std: $*" >&2; }
version="$(dpkg-query -W -f='${Version}' rustc 2>/dev/null || true)"
[ -n "$version" ] || { log "Debian's rustc is not installed (run: sudo npm run setup)"; exit 1; }
BASE="$CACHE/debian-rustc-${version//[^A-Za-z0-9.+-]/_}-aarch64-std-2"
SYSROOT="$BASE/sysroot"
if [ -e "$BASE/complete" ]; then echo "$SYSROOT"; exit 0; fi
dpkg --print-foreign-architectures | grep -qx arm64 || { log "Debian's arm64 architecture is not enabled (run: sudo npm run setup)"; exit 1; }
mkdir -p "$BASE"
exec 9>"$BASE/lock"
flock 9
if [ -e "$BASE/complete" ]; then echo "$SYSROOT"; exit 0; fi
debs="$BASE/debs"
rm -rf "$debs" "$BASE/unpacked" "$SYSROOT"
mkdir -p "$debs"
shared="libstd-rust-${version%%.0+*}"
(cd "$debs" && apt-get download "libstd-rust-dev:arm64=$version" "$shared:arm64=$version") >&2 || { log "apt-get download libstd-rust-dev:arm64=$version $shared:arm64=$version failed (apt-get update first?)"; exit 1; }
for deb in "$debs"/*_arm64.deb; do dpkg-deb -x "$deb" "$BASE/unpacked"; done
std="$BASE/unpacked/usr/lib/rustlib/aarch64-unknown-linux-gnu/lib"
[ -d "$std" ] || { log "the package holds no usr/lib/rustlib/aarch64-unknown-linux-gnu/lib"; exit 1; }
mkdir -p "$SYSROOT/bin" "$SYSROOT/lib/rustlib/aarch64-unknown-linux-gnu"
cp /usr/bin/rustc "$SYSROOT/bin/rustc"
mv "$std" "$SYSROOT/lib/rustlib/aarch64-unknown-linux-gnu/lib"
mkdir -p "$SYSROOT/lib/aarch64-linux-gnu"
mv "$BASE/unpacked/usr/lib/aarch64-linux-gnu"/lib{std,test}-*.so "$SYSROOT/lib/aarch64-linux-gnu/"
rm -rf "$BASE/unpacked" "$debs"
[ "$("$SYSROOT/bin/rustc" --print sysroot)" = "$SYSROOT" ] || { log "the copied rustc does not see $SYSROOT as its sysroot"; exit 1; }
touch "$BASE/complete"
echo "$SYSROOT"

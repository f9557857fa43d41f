#!/usr/bin/env bash
# Build a rustup distribution server tree (channel manifests + component
# tarballs) from toolchains on this machine, for the plugin-rustup tests
# (packages/plugin-rustup/test, test/e2e/farm-rustup.test.ts). There is no
# route to static.rust-lang.org here; a test serves this tree on loopback and
# points RUSTUP_DIST_SERVER at it. Recipe and traps:
# docs/rust.md#testing-the-rustup-path.
#
# Usage: scripts/setup-rustup-dist.sh [DEST]
#   DEST defaults to $REPRISE_FIXTURE_CACHE/rustup-dist, with
#   REPRISE_FIXTURE_CACHE defaulting to ${XDG_CACHE_HOME:-~/.cache}/reprise-fixtures.
#
# Channels served (each "dist/channel-rust-<name>.toml" + ".sha256"):
#   <V>     (the version of rustup's stable toolchain in ~/.rustup, 1.95.0 on
#           the machine this was written on) rustc, cargo, rust-std for
#           x86_64-unknown-linux-gnu, repackaged byte for byte from it. Host
#           target only: no other std of that release exists offline.
#   1.96.0  Debian's rustc-web 1.96 (bookworm-security), downloaded with
#           `apt-get download` and unpacked, never installed: rustc (with its
#           librustc_driver and libLLVM), rust-std for x86_64 and aarch64 (a
#           genuine second target).
# Idempotent: a channel whose manifest exists is kept (delete DEST to rebuild).
# Tarballs are built deterministically (sorted, mtime 0, owner 0), so their
# hashes are stable. Prints "dist <DEST>".
set -euo pipefail

CACHE="${REPRISE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprise-fixtures}"
DEST="${1:-$CACHE/rustup-dist}"
mkdir -p "$DEST/dist"
DEST="$(cd "$DEST" && pwd)"
# rustup's built-in server: URLs are written with it, and rustup swaps it for
# RUSTUP_DIST_SERVER when downloading, so the tree works on any port.
PREFIX="https://static.rust-lang.org"
DATE="2026-04-16"
HOST=x86_64-unknown-linux-gnu
log() { printf '[rustup-dist] %s\n' "$*" >&2; }

# make_tarball PKG VER TRIPLE COMPONENT SRCROOT LISTFILE: files of LISTFILE
# (paths relative to SRCROOT) in rust-installer v3 layout, as
# dist/$DATE/PKG-VER-TRIPLE.tar.gz; prints its sha256.
make_tarball() {
  local pkg=$1 ver=$2 triple=$3 comp=$4 src=$5 list=$6
  local name="$pkg-$ver-$triple" work
  work="$(mktemp -d)"
  mkdir -p "$work/$name/$comp"
  echo 3 > "$work/$name/rust-installer-version"
  echo "$comp" > "$work/$name/components"
  : > "$work/$name/$comp/manifest.in"
  while IFS= read -r rel; do
    [ -n "$rel" ] || continue
    mkdir -p "$work/$name/$comp/$(dirname "$rel")"
    cp -p "$src/$rel" "$work/$name/$comp/$rel"
    echo "file:$rel" >> "$work/$name/$comp/manifest.in"
  done < "$list"
  mkdir -p "$DEST/dist/$DATE"
  tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$name" | gzip -1 -n > "$DEST/dist/$DATE/$name.tar.gz"
  rm -rf "$work"
  sha256sum "$DEST/dist/$DATE/$name.tar.gz" | cut -d' ' -f1
}

# write_channel NAME VERSION_TEXT "pkg:triple:hash ..." "ext-triple ..." : the channel manifest.
write_channel() {
  local name=$1 version=$2 comps=$3 extra=$4
  local f="$DEST/dist/channel-rust-$name.toml" c pkg triple hash ver
  ver="${version%% *}"
  printf 'manifest-version = "2"\ndate = "%s"\n' "$DATE" > "$f.tmp"
  local seen=""
  for c in $comps; do
    IFS=: read -r pkg triple hash <<< "$c"
    case " $seen " in *" $pkg "*) ;; *) printf '\n[pkg.%s]\nversion = "%s"\n' "$pkg" "$version" >> "$f.tmp"; seen="$seen $pkg" ;; esac
    printf '\n[pkg.%s.target.%s]\navailable = true\nurl = "%s/dist/%s/%s-%s-%s.tar.gz"\nhash = "%s"\ncomponents = []\nextensions = []\n' \
      "$pkg" "$triple" "$PREFIX" "$DATE" "$pkg" "$ver" "$triple" "$hash" >> "$f.tmp"
  done
  printf '\n[pkg.rust]\nversion = "%s"\n\n[pkg.rust.target.%s]\navailable = true\nurl = "%s/dist/%s/rust-%s-%s.tar.gz"\nhash = "%064d"\n' \
    "$version" "$HOST" "$PREFIX" "$DATE" "$ver" "$HOST" 0 >> "$f.tmp"
  for c in $comps; do
    IFS=: read -r pkg triple hash <<< "$c"
    # The host's packages make the toolchain; other targets' std are extensions (`rustup target add`).
    if [ "$triple" = "$HOST" ]; then printf '\n[[pkg.rust.target.%s.components]]\npkg = "%s"\ntarget = "%s"\n' "$HOST" "$pkg" "$triple" >> "$f.tmp"; fi
  done
  for triple in $extra; do
    printf '\n[[pkg.rust.target.%s.extensions]]\npkg = "rust-std"\ntarget = "%s"\n' "$HOST" "$triple" >> "$f.tmp"
  done
  printf '\n[profiles]\nminimal = ["rustc", "cargo", "rust-std", "rust-mingw"]\n' >> "$f.tmp"
  mv "$f.tmp" "$f"
  (cd "$DEST/dist" && sha256sum "channel-rust-$name.toml" > "channel-rust-$name.toml.sha256")
}

channel_stable() {
  local tc="$HOME/.rustup/toolchains/stable-$HOST"
  local rl="$tc/lib/rustlib" ver
  if [ ! -x "$tc/bin/rustc" ]; then
    echo "setup-rustup-dist: $tc does not exist: install rustup's stable toolchain (the tests' reference toolchain)" >&2
    exit 1
  fi
  ver="$("$tc/bin/rustc" -V | awk '{print $2}')"
  [ -f "$DEST/dist/channel-rust-$ver.toml" ] && { log "$ver: present"; return; }
  log "$ver: repackaging $tc (about 30 s)"
  local comps="" pkg comp list h
  for pkg in rustc cargo rust-std; do
    comp="$pkg"; [ "$pkg" = rust-std ] && comp="rust-std-$HOST"
    list="$(mktemp)"
    sed -n 's/^file://p' "$rl/manifest-$pkg-$HOST" > "$list"
    h="$(make_tarball "$pkg" "$ver" "$HOST" "$comp" "$tc" "$list")"
    rm -f "$list"
    comps="$comps $pkg:$HOST:$h"
  done
  write_channel "$ver" "$("$tc/bin/rustc" -V | sed 's/^rustc //')" "$comps" ""
}

channel_196() {
  [ -f "$DEST/dist/channel-rust-1.96.0.toml" ] && { log "1.96.0: present"; return; }
  local debs="$CACHE/debs-rustc-web-1.96"
  local v="1.96.0+dfsg1-1~deb12u2" llvm="1:22.1.8-1~deb12u1"
  mkdir -p "$debs"
  if ! ls "$debs"/libstd-rust-web-dev_*_arm64.deb >/dev/null 2>&1; then
    dpkg --print-foreign-architectures | grep -qx arm64 || { echo "setup-rustup-dist: Debian's arm64 architecture is not enabled (run: sudo npm run setup)" >&2; exit 1; }
    log "1.96.0: downloading Debian's rustc-web $v (126 MB, nothing is installed)"
    (cd "$debs" && apt-get download "rustc-web=$v" "libstd-rust-web-1.96=$v" "libstd-rust-web-dev=$v" "libllvm22=$llvm" "libstd-rust-web-dev:arm64=$v") >&2 || {
      echo "setup-rustup-dist: apt-get download failed: is bookworm-security in the apt sources, and apt-get update run? (sudo npm run setup)" >&2
      exit 1
    }
  fi
  local root="$CACHE/rustc-web-1.96-root"
  if [ ! -x "$root/usr/bin/rustc" ]; then
    rm -rf "$root"; mkdir -p "$root"
    for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$root"; done
  fi
  log "1.96.0: packaging (about 35 s)"
  local tree list h comps=""
  tree="$(mktemp -d)"
  mkdir -p "$tree/bin" "$tree/lib"
  cp -p "$root/usr/bin/rustc" "$tree/bin/rustc"
  cp -p "$root"/usr/lib/x86_64-linux-gnu/librustc_driver-*.so "$tree/lib/"
  cp -pL "$root/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1" "$tree/lib/libLLVM.so.22.1"
  list="$(mktemp)"
  (cd "$tree" && find bin lib -type f | sort) > "$list"
  h="$(make_tarball rustc 1.96.0 "$HOST" rustc "$tree" "$list")"
  comps="$comps rustc:$HOST:$h"
  for triple in "$HOST" aarch64-unknown-linux-gnu; do
    (cd "$root/usr" && find "lib/rustlib/$triple/lib" -maxdepth 1 -type f | sort) > "$list"
    h="$(make_tarball rust-std 1.96.0 "$triple" "rust-std-$triple" "$root/usr" "$list")"
    comps="$comps rust-std:$triple:$h"
  done
  rm -rf "$tree" "$list"
  write_channel 1.96.0 "$(LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/rustc" -V | sed 's/^rustc //')" "$comps" aarch64-unknown-linux-gnu
}

only="${REPRISE_RUSTUP_DIST_CHANNELS:-stable 1.96.0}"
for ch in $only; do
  case "$ch" in
    stable) channel_stable ;;
    1.96.0) channel_196 ;;
    *) echo "setup-rustup-dist: unknown channel $ch" >&2; exit 2 ;;
  esac
done
echo "dist $DEST"

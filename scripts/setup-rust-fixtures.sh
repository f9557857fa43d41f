#!/usr/bin/env bash
# Prepare the Rust test workspace (test-fixtures/rust-workspace) for the e2e
# tests (test/e2e/rust-*.test.ts) and the Rust benchmark (bench/rust.mjs).
#
# Usage: scripts/setup-rust-fixtures.sh [--with-sccache] [DEST]
#
# - Nothing from crates.io is reachable here. The workspace's dependencies come
#   from Debian's librust-*-dev packages, which install real crate sources with
#   their .cargo-checksum.json under /usr/share/cargo/registry; the workspace's
#   .cargo/config.toml makes that directory cargo's source for crates-io
#   (offline). This script installs those packages when any is missing
#   (apt-get, as root; idempotent: nothing is done when all are installed).
# - --with-sccache also installs Debian's sccache (for the benchmark).
# - With DEST, copies the workspace there (DEST is replaced), ready for
#   `cargo build`; prints "workspace <DEST>".
# - Checks that cargo and rustc are found (PATH, then ~/.cargo/bin) and prints
#   "cargo <path>".
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKSPACE="$REPO_ROOT/test-fixtures/rust-workspace"
REGISTRY=/usr/share/cargo/registry

with_sccache=0
dest=""
for arg in "$@"; do
  case "$arg" in
    --with-sccache) with_sccache=1 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "setup-rust-fixtures: unknown option $arg" >&2; exit 2 ;;
    *) dest="$arg" ;;
  esac
done

# The workspace's direct dependencies; apt brings in the rest of the graph
# (proc-macro2, quote, unicode-ident, itoa, ryu, autocfg, scopeguard, ...).
PACKAGES=(
  librust-serde-dev librust-serde-derive-dev librust-serde-json-dev
  librust-syn-dev librust-proc-macro2-dev librust-quote-dev librust-heck-dev
  librust-thiserror-dev librust-smallvec-dev librust-bitflags-dev librust-either-dev
  librust-num-traits-dev librust-cc-dev librust-once-cell-dev librust-log-dev
  librust-lock-api-dev librust-memchr-dev librust-fnv-dev librust-byteorder-dev
  librust-lazy-static-dev librust-libc-dev librust-cfg-if-dev librust-strsim-dev
  librust-anyhow-dev
)
[ "$with_sccache" = 1 ] && PACKAGES+=(sccache)

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
  [ "${status:0:2}" = "ii" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-rust-fixtures: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-rust-fixtures: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if ! ls "$REGISTRY"/serde-[0-9]*/.cargo-checksum.json >/dev/null 2>&1; then
  echo "setup-rust-fixtures: $REGISTRY has no serde crate with .cargo-checksum.json" >&2
  exit 1
fi

cargo_bin="$(command -v cargo || true)"
[ -n "$cargo_bin" ] || { [ -x "$HOME/.cargo/bin/cargo" ] && cargo_bin="$HOME/.cargo/bin/cargo"; }
if [ -z "$cargo_bin" ]; then
  echo "setup-rust-fixtures: cargo not found (PATH or ~/.cargo/bin); the Rust toolchain comes from rustup" >&2
  exit 1
fi
echo "cargo $cargo_bin"

if [ -n "$dest" ]; then
  rm -rf "$dest"
  mkdir -p "$dest"
  cp -R "$WORKSPACE/." "$dest/"
  echo "workspace $(cd "$dest" && pwd)"
fi

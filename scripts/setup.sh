#!/usr/bin/env bash
# `npm run setup`: everything a fresh Debian 12 machine with Node and npm needs
# before `npm test`, in one step: Debian packages (compilers, sandboxes,
# emulation, servers, the Rust fixture crates), Debian's arm64 architecture,
# then `npm ci`. Idempotent: what is present is not installed again.
#
# Installing needs root. Run as another user, it stops with the one command to
# run when something is missing; run through sudo, `npm ci` runs as the user
# who called sudo, so node_modules stays theirs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Everything the test suite runs or installs by itself, and what the storage
# backends' tests start (redis, memcached, nginx with WebDAV).
PACKAGES=(
  gcc g++ clang make cmake tcc
  bubblewrap podman runc busybox-static docker.io uidmap
  qemu-user-static binfmt-support debootstrap gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev
  libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross
  redis-server memcached nginx libnginx-mod-http-dav-ext
  procps util-linux dpkg-dev xz-utils git ca-certificates acl e2fsprogs ccache
  # The native client is linked against musl where musl-gcc builds for this machine (packages/core/native/README.md).
  musl-tools
  # Debian's rustc 1.63, beside rustup's: the Rust job tests package a rustc that rustup does not manage.
  rustc
)

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
  [ "${status:0:2}" = "ii" ] || missing+=("$p")
done
need_arm64=0
dpkg --print-foreign-architectures | grep -qx arm64 || need_arm64=1

if [ ${#missing[@]} -gt 0 ] || [ "$need_arm64" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "reprise setup: Debian packages are missing (${missing[*]:-arm64 architecture}); run: sudo npm run setup" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt=(apt-get -o DPkg::Lock::Timeout=900 -q)
  # Debian's arm64 gcc (downloaded by the toolchain tests, never installed) comes from this architecture.
  if [ "$need_arm64" = 1 ]; then dpkg --add-architecture arm64; fi
  echo "reprise setup: installing ${missing[*]:-nothing} (apt-get)" >&2
  "${apt[@]}" update >/dev/null
  if [ ${#missing[@]} -gt 0 ]; then "${apt[@]}" install -y "${missing[@]}" >/dev/null; fi
fi

# Debian's librust-*-dev crates for the Rust tests (the toolchain itself is
# rustup's); says what to run when it cannot install them.
bash scripts/setup-rust-fixtures.sh >/dev/null
# The loopback rustup distribution tree of the farm-rustup tests (cached; ~2 min the first time).
bash scripts/setup-rustup-dist.sh >/dev/null || echo "reprise setup: the loopback rustup dist tree was not built (reason above); the farm-rustup tests build it themselves or fail saying why" >&2
# Debian's aarch64 std beside a copy of /usr/bin/rustc, for the cross-architecture suite's x86_64 builder (cached, ~10 s).
bash scripts/setup-rust-cross-std.sh >/dev/null || echo "reprise setup: Debian's aarch64 Rust std was not fetched (reason above); test/cross-arch/rust.test.ts fetches it itself or fails saying why" >&2

if [ -n "${SUDO_UID:-}" ] && [ "$(id -u)" = 0 ] && [ "$SUDO_UID" != 0 ]; then
  # Through sudo: node_modules belongs to the user who called it, and so does npm's cache (-H).
  sudo -u "#$SUDO_UID" -H env "PATH=$PATH" "$(command -v npm)" ci --no-audit --no-fund
else
  npm ci --no-audit --no-fund
fi
echo "reprise setup: done; next: npm test" >&2

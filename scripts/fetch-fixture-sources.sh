#!/usr/bin/env bash
# Fetch the source of real open-source C/C++ projects from Debian's source
# packages, for the benchmark (bench/run.mjs) and integration fixtures.
#
# Usage: scripts/fetch-fixture-sources.sh [DEST]      (DEST defaults to <repo>/.fixtures)
#
# - Uses a private apt configuration (own deb-src list, own lists/cache dirs
#   under DEST/.apt); the system's apt sources and state are not touched.
# - The mirror URI is taken from /etc/apt/sources.list.d/debian.sources
#   (the stanza carrying the "bookworm" suite); override with
#   REPRISE_FIXTURE_MIRROR=<uri> and REPRISE_FIXTURE_SUITE=<suite>.
# - Idempotent: a project whose tree is already unpacked (marker file
#   DEST/<name>/.reprise-fixture) is skipped; apt-get update is skipped when
#   every project is present.
# - Each project is unpacked to a stable path DEST/<name> (no version in it),
#   whatever the Debian version; the version is in DEST/<name>/.reprise-fixture.
# - Needs: apt-get, dpkg-source (package dpkg-dev; installed when missing and
#   running as root).
#
# - REPRISE_FIXTURE_PROJECTS="<source package> ..." fetches those instead
#   (scripts/fetch-make44.sh fetches make-dfsg from trixie this way).
#
# Prints one line per project: "<name> <path>".
# Set REPRISE_FIXTURE_VERIFY=1 to also build each tree plainly (into a scratch
# dir, not inside the tree) to check it builds on this machine.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$REPO_ROOT/.fixtures}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

# name = Debian source package; the unpacked tree goes to DEST/<name>.
#   lua5.4    : C, 35 TUs, plain make. Unpacked WITHOUT Debian's patches: its
#               0001-build-system.patch turns the build into a libtool one (and
#               compiles every file twice, as C and C++); upstream's own
#               src/Makefile uses `$(CC) $(CFLAGS) -c`, so `make CC="tool gcc"`
#               on the command line wraps every compile.
#   yaml-cpp  : C++, ~45 library TUs, CMake, no dependencies (tests/tools off).
#   make-dfsg : GNU make's source (only through REPRISE_FIXTURE_PROJECTS), built
#               by scripts/fetch-make44.sh; upstream's tree, Debian's patches
#               skipped.
# shellcheck disable=SC2206
PROJECTS=(${REPRISE_FIXTURE_PROJECTS:-lua5.4 yaml-cpp})
# dpkg-source -x options per project
declare -A UNPACK_OPTS=([lua5.4]="--skip-patches" [yaml-cpp]="" [make-dfsg]="--skip-patches")

log() { printf '[fetch-fixtures] %s\n' "$*" >&2; }

missing=()
for p in "${PROJECTS[@]}"; do
  if [[ -f "$DEST/$p/.reprise-fixture" ]]; then
    log "$p: present, skipping"
  else
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if ! command -v dpkg-source >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
      log "installing dpkg-dev (for dpkg-source)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg-dev >&2 ||
        { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg-dev >&2; }
    else
      log "dpkg-source not found: install dpkg-dev"; exit 1
    fi
  fi

  # ---- mirror from the system's deb822 sources (read only) ----
  SYS_SOURCES=/etc/apt/sources.list.d/debian.sources
  SUITE="${REPRISE_FIXTURE_SUITE:-bookworm}"
  MIRROR="${REPRISE_FIXTURE_MIRROR:-}"
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  if [[ -z "$MIRROR" && -r "$SYS_SOURCES" ]]; then
    # First stanza whose Suites field has exactly "$SUITE" and Components has main.
    read -r MIRROR SIGNED < <(awk -v suite="$SUITE" '
      function flush() {
        if (uris != "" && (" " suites " ") ~ (" " suite " ") && (" " comps " ") ~ / main /) {
          split(uris, u, " "); print u[1], (signed == "" ? "-" : signed); found = 1; exit
        }
        uris = suites = comps = signed = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { line = $0; key = line; sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val) }
      tolower(key) == "uris"       { uris = val }
      tolower(key) == "suites"     { suites = val }
      tolower(key) == "components" { comps = val }
      tolower(key) == "signed-by"  { signed = val }
      END { if (!found) flush() }
    ' "$SYS_SOURCES") || true
    if [[ -n "${SIGNED:-}" && "$SIGNED" != "-" && -r "$SIGNED" ]]; then KEYRING="$SIGNED"; fi
  fi
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
  log "mirror: $MIRROR ($SUITE main)"

  # ---- private apt setup ----
  APT_DIR="$DEST/.apt"
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/dl"
  printf 'deb-src [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$APT_DIR/sources.list"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "Dir::Cache::Archives=$APT_DIR/cache/archives"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Update::Post-Invoke-Success::="
    -o "Acquire::Languages=none"
    -o "Acquire::Retries=3"
  )
  # Running as root, apt drops to the _apt user for downloads, which must be
  # able to write into our private dirs; hand them over (or skip sandboxing).
  if [[ $(id -u) -eq 0 ]]; then
    if id _apt >/dev/null 2>&1; then
      chown -R _apt:root "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/dl" 2>/dev/null ||
        APT_OPTS+=(-o "APT::Sandbox::User=root")
    fi
  fi

  log "apt-get update (private lists in $APT_DIR/lists)"
  apt-get "${APT_OPTS[@]}" -q update >&2

  for p in "${missing[@]}"; do
    log "$p: downloading source package"
    rm -rf "$APT_DIR/dl"/*
    (cd "$APT_DIR/dl" && apt-get "${APT_OPTS[@]}" -q source --download-only "$p" >&2)
    dsc=$(ls "$APT_DIR/dl"/*.dsc | head -n1)
    [[ -f "$dsc" ]] || { log "$p: no .dsc downloaded"; exit 1; }
    version=$(sed -n 's/^Version: //p' "$dsc" | head -n1)
    tmp="$DEST/.$p.unpack.$$"
    rm -rf "$tmp"
    # apt has already checked the files against the signed Sources index.
    # shellcheck disable=SC2086
    dpkg-source --no-copy ${UNPACK_OPTS[$p]:-} -x "$dsc" "$tmp" >&2
    rm -rf "$DEST/$p"
    mv "$tmp" "$DEST/$p"
    printf 'package=%s\nversion=%s\nmirror=%s\nsuite=%s\n' "$p" "$version" "$MIRROR" "$SUITE" >"$DEST/$p/.reprise-fixture"
    rm -rf "$APT_DIR/dl"/*
    log "$p: unpacked $version"
  done
fi

# ---- optional: verify each tree builds plainly (out of tree) ----
if [[ "${REPRISE_FIXTURE_VERIFY:-0}" == 1 ]]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  jobs="${REPRISE_FIXTURE_JOBS:-2}"
  [[ -d "$DEST/lua5.4" ]] || { log "verify: lua5.4 not fetched"; exit 1; }
  log "verify lua5.4: make -j$jobs"
  cp -a "$DEST/lua5.4" "$scratch/lua"
  (cd "$scratch/lua" && time make -j"$jobs" CC=gcc linux >/dev/null) >&2
  "$scratch/lua/src/lua" -e 'print("lua ok: " .. _VERSION)' >&2
  log "verify yaml-cpp: cmake + cmake --build -j$jobs"
  cmake -S "$DEST/yaml-cpp" -B "$scratch/yaml" -DCMAKE_BUILD_TYPE=Release \
    -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=ON >/dev/null
  (time cmake --build "$scratch/yaml" -j"$jobs" >/dev/null) >&2
  log "verify: ok"
fi

for p in "${PROJECTS[@]}"; do
  printf '%s %s\n' "$p" "$DEST/$p"
done

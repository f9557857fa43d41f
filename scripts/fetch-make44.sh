#!/usr/bin/env bash
# Builds GNU make 4.4 from Debian trixie's source package, for the test that
# runs a real make 4.4 (test/e2e/make44-jobserver.test.ts): Debian 12 ships
# make 4.3, whose jobserver is a pair of inherited fds, while make 4.4 (Debian
# 13, current Ubuntu and Fedora) names a FIFO whose path changes on every run.
#
# Usage: scripts/fetch-make44.sh [DEST]   (DEST defaults to <repo>/.fixtures)
#
# - The source comes through scripts/fetch-fixture-sources.sh (a private apt
#   configuration, the system's apt untouched) into DEST/trixie/make-dfsg;
#   REPRISE_MAKE44_SUITE overrides the suite (default trixie).
# - Built without make itself (upstream's build.sh), into DEST/make-4.4/bin/make.
#   Idempotent: an existing DEST/make-4.4/bin/make that says "GNU Make 4.4" is kept.
# - Prints the path of the make binary.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$REPO_ROOT/.fixtures}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
OUT="$DEST/make-4.4"
log() { printf '[fetch-make44] %s\n' "$*" >&2; }

if [[ -x "$OUT/bin/make" ]] && "$OUT/bin/make" --version 2>/dev/null | head -n1 | grep -q '^GNU Make 4\.[4-9]'; then
  printf '%s\n' "$OUT/bin/make"
  exit 0
fi

REPRISE_FIXTURE_PROJECTS=make-dfsg REPRISE_FIXTURE_SUITE="${REPRISE_MAKE44_SUITE:-trixie}" \
  bash "$REPO_ROOT/scripts/fetch-fixture-sources.sh" "$DEST/trixie" >/dev/null
SRC="$DEST/trixie/make-dfsg"
grep -q '^version=4\.[4-9]' "$SRC/.reprise-fixture" || { log "the fetched make-dfsg is not 4.4 or later: $(cat "$SRC/.reprise-fixture")"; exit 1; }

BUILD="$DEST/.make44.build.$$"
rm -rf "$BUILD"
cp -a "$SRC" "$BUILD"
trap 'rm -rf "$BUILD"' EXIT
cd "$BUILD"
# Debian's orig tarball leaves out the manual (DFSG), which configure still lists.
mkdir -p doc && [[ -f doc/Makefile.in ]] || printf 'all:\ninstall:\n' >doc/Makefile.in
log "configure"
./configure --prefix="$OUT" --disable-nls >"$BUILD/configure.log" 2>&1 || { tail -n 20 "$BUILD/configure.log" >&2; exit 1; }
log "build.sh"
./build.sh >"$BUILD/build.log" 2>&1 || { tail -n 20 "$BUILD/build.log" >&2; exit 1; }
./make --version | head -n1 | grep -q '^GNU Make 4\.[4-9]' || { log "built make is not 4.4: $(./make --version | head -n1)"; exit 1; }
mkdir -p "$OUT/bin.tmp"
cp make "$OUT/bin.tmp/make"
rm -rf "$OUT/bin" && mv "$OUT/bin.tmp" "$OUT/bin"
log "built $("$OUT/bin/make" --version | head -n1)"
printf '%s\n' "$OUT/bin/make"

#!/usr/bin/env bash
# Builds the Debian package: actorvol_VERSION_ARCH.deb in OUT_DIR (default build-deb/), and
# checks it with lintian (overrides, each with its reason: plugin/debian/lintian-overrides).
#   plugin/deb.sh [OUT_DIR]
# Its own build directory: prefix /usr (the units name /usr/sbin/actorvol) and Debian's
# hardening flags from dpkg-buildflags. Needs dpkg-dev and lintian (.ci/install-deps.sh --deb).
# ACTORVOL_BUILD_LOCK=FILE runs the compile under `flock FILE`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/build-deb}")
cd "$top"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DACTORVOL_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
if [ -n "${ACTORVOL_BUILD_LOCK:-}" ]; then
  flock "$ACTORVOL_BUILD_LOCK" cmake --build "$out" -j2 --target actorvol
else
  cmake --build "$out" -j2 --target actorvol
fi
rm -f "$out"/actorvol_*.deb
(cd "$out" && cpack -G DEB >/dev/null)
deb=$(ls "$out"/actorvol_*.deb)
# lintian exits non-zero on an error; warnings fail too: the package must be clean.
lintian --fail-on error,warning --info "$deb" 2>&1 | tee "$out/lintian.log" || {
  echo "plugin/deb.sh: lintian found problems (above)" >&2
  exit 1
}
echo "$deb"

#!/usr/bin/env bash
# Installs everything the tests need (Debian 12), builds actorvol, and runs every test with
# ctest. Tests that need root or a Docker daemon skip with a message on a machine without
# them; with CI=true they run (this script starts dockerd) and a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
build=${ACTORVOL_BUILD_DIR:-build}

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

bash .ci/install-deps.sh --test

# ACTORVOL_BUILD_LOCK=FILE: every build holds this flock (a shared machine builds one at a time).
build_cmd() {
  if [ -n "${ACTORVOL_BUILD_LOCK:-}" ]; then flock "$ACTORVOL_BUILD_LOCK" cmake --build "$@"
  else cmake --build "$@"; fi
}
export -f build_cmd

# The fuzzer needs clang's libFuzzer; it is built on its own and run by ctest.
fuzz_flag=()
if command -v clang++ >/dev/null 2>&1; then
  CXX=clang++ cmake -S . -B "$build-fuzz" -DACTORVOL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null
  build_cmd "$build-fuzz" -j2 --target request_fuzz options_fuzz
  fuzz_flag=(-DACTORVOL_FUZZER="$top/$build-fuzz/tests/fuzz/request_fuzz"
             -DACTORVOL_OPTIONS_FUZZER="$top/$build-fuzz/tests/fuzz/options_fuzz")
fi

# The sanitizer runs (tests/sanitizers.sh): first, so that the full run's ctest summary is the
# last thing printed; their failure fails this script, at the end.
san_rc=0
bash tests/sanitizers.sh || san_rc=$?
if [ $san_rc -ne 0 ]; then
  echo "tests/run.sh: FAILED under sanitizers (see above); the full run follows"
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${fuzz_flag[@]}" >/dev/null
build_cmd "$build" -j2

# The end-to-end tests drive a real dockerd; start one when we may and none is running.
started_docker=0
if [ "$(id -u)" = 0 ] && [ -f .ci/docker-env.sh ] && ! docker info >/dev/null 2>&1; then
  if bash .ci/docker-env.sh start; then
    started_docker=1
  else
    echo "tests/run.sh: could not start dockerd; the e2e tests will report it" >&2
  fi
fi
if [ "$(id -u)" = 0 ] && [ -f .ci/docker-env.sh ] && docker info >/dev/null 2>&1; then
  bash .ci/docker-env.sh images || echo "tests/run.sh: could not build test images" >&2
fi
cleanup() {
  if [ $started_docker = 1 ]; then
    bash "$top/.ci/docker-env.sh" stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

cd "$build"
rc=0
ctest --output-on-failure -j2 "$@" || rc=$?
# Nothing is printed after ctest's summary: a sanitizer failure only sets the exit status.
[ $san_rc -eq 0 ] || [ $rc -ne 0 ] || rc=1
exit $rc

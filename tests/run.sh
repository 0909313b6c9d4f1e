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

# The fuzzer needs clang's libFuzzer; it is built on its own and run by ctest.
fuzz_flag=()
if command -v clang++ >/dev/null 2>&1; then
  CXX=clang++ cmake -S . -B "$build-fuzz" -DACTORVOL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null
  cmake --build "$build-fuzz" -j2 --target request_fuzz
  fuzz_flag=(-DACTORVOL_FUZZER="$top/$build-fuzz/tests/fuzz/request_fuzz")
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${fuzz_flag[@]}" >/dev/null
cmake --build "$build" -j2

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
ctest --output-on-failure -j2 "$@"

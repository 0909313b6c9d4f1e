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
  cmake --build "$build-fuzz" -j2 --target request_fuzz options_fuzz
  fuzz_flag=(-DACTORVOL_FUZZER="$top/$build-fuzz/tests/fuzz/request_fuzz"
             -DACTORVOL_OPTIONS_FUZZER="$top/$build-fuzz/tests/fuzz/options_fuzz")
fi

# The sanitizer runs (clang): unit, actor and integration tests under ASan+UBSan in
# $build-asan, actor and integration tests under TSan in $build-tsan, each build with only
# what those tests need. They run first so that the full run's ctest summary is the last
# thing printed; a failure here fails this script, at the end. ACTORVOL_SANITIZERS picks
# the variants ("asan tsan"; empty skips them). The actor scenarios get a shorter time
# budget per exploration there (they run 3-20x slower); the full run explores them fully.
sanitizers=${ACTORVOL_SANITIZERS-asan tsan}
command -v clang++ >/dev/null 2>&1 || sanitizers=""
san_failed=()
for mode in $sanitizers; do
  case $mode in
    asan) flags=address,undefined labels='^(unit|actors|integration)$'
          targets=(actorvol unit_tests actor_tests integration_tests) ;;
    tsan) flags=thread labels='^(actors|integration)$'
          targets=(actorvol actor_tests integration_tests) ;;
    *) echo "tests/run.sh: unknown sanitizer run '$mode'" >&2; exit 2 ;;
  esac
  echo "== $mode: ACTORVOL_SANITIZE=$flags, ctest -L '$labels'"
  CXX=clang++ cmake -S . -B "$build-$mode" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DACTORVOL_SANITIZE="$flags" >/dev/null
  start=$SECONDS
  cmake --build "$build-$mode" -j2 --target "${targets[@]}"
  built=$SECONDS
  if ! (cd "$build-$mode" && ACTORVOL_EXPLORE_SECONDS=${ACTORVOL_EXPLORE_SECONDS:-10} \
          ctest --output-on-failure -j2 -L "$labels"); then
    san_failed+=("$mode")
  fi
  echo "== $mode: build $((built - start)) s, tests $((SECONDS - built)) s"
done

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

if [ ${#san_failed[@]} -gt 0 ]; then
  echo "tests/run.sh: FAILED under sanitizers: ${san_failed[*]} (see above); the full run follows"
fi

cd "$build"
rc=0
ctest --output-on-failure -j2 "$@" || rc=$?
# Nothing is printed after ctest's summary: a sanitizer failure only sets the exit status.
[ ${#san_failed[@]} -eq 0 ] || [ $rc -ne 0 ] || rc=1
exit $rc

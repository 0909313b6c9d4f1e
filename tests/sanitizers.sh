#!/usr/bin/env bash
# Builds and runs the tests under sanitizers (needs clang; tests/run.sh calls this first):
# unit, actor and integration tests under ASan+UBSan in $build-asan, actor and integration
# tests under TSan in $build-tsan, each build with only what those tests need.
# ACTORVOL_SANITIZERS picks the variants ("asan tsan"; empty skips them). The actor scenarios get a shorter time
# budget per exploration there (they run 3-20x slower); the full run explores them fully.
# A report fails its test: see cmake/sanitizer_defaults.cpp and tests/support/plugin.cpp.
# Exits non-zero when any run failed. Local use: bash tests/sanitizers.sh (after the deps).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ACTORVOL_BUILD_DIR:-build}
declare -F build_cmd >/dev/null || build_cmd() {
  if [ -n "${ACTORVOL_BUILD_LOCK:-}" ]; then flock "$ACTORVOL_BUILD_LOCK" cmake --build "$@"
  else cmake --build "$@"; fi
}

sanitizers=${ACTORVOL_SANITIZERS-asan tsan}
command -v clang++ >/dev/null 2>&1 || sanitizers=""
san_failed=()
for mode in $sanitizers; do
  case $mode in
    asan) flags=address,undefined labels='^(unit|actors|integration)$'
          targets=(actorvol unit_tests actor_tests integration_tests) ;;
    tsan) flags=thread labels='^(actors|integration)$'
          targets=(actorvol actor_tests integration_tests) ;;
    *) echo "tests/sanitizers.sh: unknown sanitizer run '$mode'" >&2; exit 2 ;;
  esac
  echo "== $mode: ACTORVOL_SANITIZE=$flags, ctest -L '$labels'"
  CXX=clang++ cmake -S . -B "$build-$mode" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DACTORVOL_SANITIZE="$flags" >/dev/null
  start=$SECONDS
  build_cmd "$build-$mode" -j2 --target "${targets[@]}"
  built=$SECONDS
  if ! (cd "$build-$mode" && ACTORVOL_EXPLORE_SECONDS=${ACTORVOL_EXPLORE_SECONDS:-30} \
          ctest --output-on-failure -j2 -L "$labels"); then
    san_failed+=("$mode")
  fi
  echo "== $mode: build $((built - start)) s, tests $((SECONDS - built)) s"
done

if [ ${#san_failed[@]} -gt 0 ]; then
  echo "== sanitizers: FAILED: ${san_failed[*]}"
  exit 1
fi

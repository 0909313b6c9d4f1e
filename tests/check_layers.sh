#!/usr/bin/env bash
# The layering check: every #include "..." of ours points at the same layer or one below it.
#   plugin/ -> net/ -> actors/ -> adaptors/ -> core/
# Prints each include that runs upward (file:line: the include) and fails when there is one.
# Usage: check_layers.sh [SOURCE_DIR]    (default: the repository this script is in)
#        check_layers.sh --self-test     (proves the check catches an upward include)
set -euo pipefail

rank() {
  case "$1" in
    core) echo 0 ;; adaptors) echo 1 ;; actors) echo 2 ;; net) echo 3 ;; plugin) echo 4 ;;
    *) echo "" ;;
  esac
}

check() {
  local top=$1 bad=0 file layer target line mine theirs
  while IFS= read -r file; do
    layer=${file%%/*}
    mine=$(rank "$layer")
    while IFS= read -r line; do
      target=$(sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*"([^/"]+)\/.*/\2/' <<<"$line")
      theirs=$(rank "$target")
      [ -n "$theirs" ] || continue  # not one of our layers (a third-party or a test header)
      if [ "$theirs" -gt "$mine" ]; then
        echo "$file:${line%%:*}: $layer/ includes $target/ (a layer above it): ${line#*:}"
        bad=1
      fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^/"]+/' "$top/$file" || true)
  done < <(cd "$top" && find core adaptors actors net plugin -type f \
             \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) 2>/dev/null | sort)
  return $bad
}

if [ "${1:-}" = "--self-test" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/core" "$tmp/adaptors" "$tmp/actors" "$tmp/net" "$tmp/plugin"
  printf '#include "core/a.hpp"\n#include <vector>\n' >"$tmp/adaptors/ok.cpp"
  printf '#include "actors/x.hpp"\n#include "core/a.hpp"\n' >"$tmp/net/ok.cpp"
  check "$tmp" >/dev/null || { echo "self-test: a clean tree was rejected"; exit 1; }
  printf '#include "net/server.hpp"\n' >"$tmp/actors/up.cpp"
  out=$(check "$tmp") && { echo "self-test: actors/ -> net/ was not caught"; exit 1; }
  grep -q 'actors/up.cpp:1: actors/ includes net/' <<<"$out" \
    || { echo "self-test: wrong report: $out"; exit 1; }
  rm "$tmp/actors/up.cpp"
  printf '  #  include "adaptors/x.hpp"\n' >"$tmp/core/up.hpp"
  check "$tmp" >/dev/null && { echo "self-test: core/ -> adaptors/ was not caught"; exit 1; }
  echo "self-test: passed"
  exit 0
fi

top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
if check "$top"; then
  echo "layers: every include runs downward (plugin -> net -> actors -> adaptors -> core)"
else
  echo "layers: FAILED: the includes above run upward"
  exit 1
fi

#!/usr/bin/env bash
# Builds the managed plugin: the image from the Dockerfile, its rootfs exported next to
# plugin/config.json, then `docker plugin create`.
#   plugin/build.sh [--name NAME] [--binary PATH] [--enable] [--push]
#     --name NAME    plugin name (default $ACTORVOL_PLUGIN or actorvol:latest)
#     --binary PATH  skip the compile: the Dockerfile's runtime stage plus this binary
#                    (it must be built on Debian 12, like the image)
#     --enable       enable the plugin once created
#     --push         docker plugin push NAME (NAME must then name a registry repository)
# Replaces an existing plugin of the same name. Needs a `debian:bookworm` image (CI imports
# one: .ci/docker-env.sh images) and a network for apt inside the build.
# ACTORVOL_BUILD_LOCK=FILE runs the image build under `flock FILE`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
name=${ACTORVOL_PLUGIN:-actorvol:latest}
binary=""
enable=0
push=0
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift 2 ;;
    --binary) binary=$(realpath "$2"); shift 2 ;;
    --enable) enable=1; shift ;;
    --push) push=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "plugin/build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -z "$binary" ] || [ -x "$binary" ] || { echo "plugin/build.sh: no binary at $binary" >&2; exit 2; }

image=actorvol-plugin-rootfs:build
work=$(mktemp -d /var/tmp/actorvol-plugin.XXXXXX)
container=""
cleanup() {
  [ -z "$container" ] || docker rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

lock=()
[ -z "${ACTORVOL_BUILD_LOCK:-}" ] || lock=(flock "$ACTORVOL_BUILD_LOCK")
build=(env DOCKER_BUILDKIT=0 docker build --network host --force-rm -q)
step() { printf 'plugin/build.sh: %s\n' "$*" >&2; }

if [ -z "$binary" ]; then
  step "building the image from $top/Dockerfile"
  "${lock[@]}" "${build[@]}" -t "$image" "$top" >/dev/null
else
  step "building the runtime stage with $binary"
  "${lock[@]}" "${build[@]}" --target runtime -t actorvol-plugin-runtime:build "$top" >/dev/null
  mkdir "$work/ctx"
  cp "$binary" "$work/ctx/actorvol"
  printf 'FROM actorvol-plugin-runtime:build\nCOPY actorvol /usr/local/bin/actorvol\n' \
    >"$work/ctx/Dockerfile"
  "${build[@]}" -t "$image" "$work/ctx" >/dev/null
fi

step "exporting the rootfs"
mkdir -p "$work/plugin/rootfs"
container=$(docker create "$image")
docker export "$container" | tar -x -C "$work/plugin/rootfs"
docker rm -f "$container" >/dev/null
container=""
# A stamp makes every rootfs unique: Docker refuses a second `plugin create` whose layer
# it already holds ("content already exists"), e.g. the same build under another name.
printf 'name=%s\nbuilt=%s\n' "$name" "$(date -u +%FT%T.%NZ)" >"$work/plugin/rootfs/etc/actorvol-plugin"
cp "$top/plugin/config.json" "$work/plugin/config.json"

if docker plugin inspect "$name" >/dev/null 2>&1; then
  step "removing the existing plugin $name"
  docker plugin disable -f "$name" >/dev/null 2>&1 || true
  docker plugin rm -f "$name" >/dev/null
fi
step "creating the plugin $name"
docker plugin create "$name" "$work/plugin" >/dev/null
if [ $enable = 1 ]; then
  docker plugin enable "$name" >/dev/null
fi
if [ $push = 1 ]; then
  docker plugin push "$name"
fi
step "done: $name ($(docker plugin inspect -f '{{if .Enabled}}enabled{{else}}disabled{{end}}' "$name"))"

#!/usr/bin/env bash
# Containers started at once through a real dockerd: N containers, each with a volume of its
# own, on Docker's `local` driver and on actorvol (the legacy plugin, the binary given), in
# alternating rounds. For each driver it prints the wall time from the first `docker run`
# until every container runs, and from the first `docker rm -f` until every one is gone
# (median of the rounds), and actorvol's ratio to local.
#
#   bash bench/containers.sh BINARY [--containers N] [--rounds R] [--out FILE]
#
# Needs root, a dockerd and the busybox:e2e image (bash .ci/docker-env.sh start; bash
# .ci/docker-env.sh images); without them it skips (exit 77), and under CI=true it fails
# instead. It compares no time with a limit: it fails only when a container, a volume or the
# data a container wrote is missing.
set -euo pipefail

binary=${1:-}
shift || true
containers=50 rounds=3 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --containers) containers=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: bash bench/containers.sh BINARY [--containers N] [--rounds R] [--out FILE]" >&2
       exit 2 ;;
  esac
done
[[ "$containers" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] \
  || { echo "bench/containers.sh: --containers and --rounds take a positive number" >&2; exit 2; }
[ -n "$binary" ] && binary=$(realpath "$binary")

# The end-to-end tests' helpers: the legacy plugin, the skips, and the cleanup at exit.
set -- legacy "$binary"
source "$(dirname "$0")/../tests/e2e/lib.sh"
e2e_require
start_plugin
plugin_driver=$E2E_DRIVER

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# One round on DRIVER: creates the volumes, starts the containers at once (each writes a
# file into its volume and sleeps), checks each one runs and sees its file, then removes
# them at once, then the volumes (a Remove that finds a use left fails the round). Sets
# START_MS and REMOVE_MS.
round() {
  local driver=$1 tag=$2 i pids=() t0 t1 t2 names=()
  for i in $(seq 1 "$containers"); do
    names+=("bench-$tag-$i")
    E2E_VOLUMES+=("bench-$tag-$i")
    docker volume create -d "$driver" "bench-$tag-$i" >/dev/null \
      || fail "docker volume create -d $driver bench-$tag-$i"
  done
  t0=$(now_ms)
  for i in "${names[@]}"; do
    docker run -d --network none --label "actorvol-e2e=$E2E_TAG" --name "$i" -v "$i:/data" \
      busybox:e2e sh -c "echo $i > /data/f && exec sleep 600" >/dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a docker run on $driver failed"; done
  t1=$(now_ms)
  for i in "${names[@]}"; do
    [ "$(docker inspect -f '{{.State.Running}}' "$i")" = true ] || fail "container $i is not running"
    local seen=""
    for _ in $(seq 1 50); do
      seen=$(docker exec "$i" cat /data/f 2>/dev/null) && [ "$seen" = "$i" ] && break
      sleep 0.1
    done
    [ "$seen" = "$i" ] || fail "container $i does not see its own file in its volume (read '$seen')"
  done
  pids=()
  t2=$(now_ms)
  for i in "${names[@]}"; do
    docker rm -f "$i" >/dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a docker rm -f on $driver failed"; done
  local t3
  t3=$(now_ms)
  for i in "${names[@]}"; do
    docker volume rm "$i" >/dev/null || fail "docker volume rm $i ($driver)"
  done
  START_MS=$((t1 - t0))
  REMOVE_MS=$((t3 - t2))
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A starts removes
for r in $(seq 1 "$rounds"); do
  for driver in local "$plugin_driver"; do
    key=$([ "$driver" = local ] && echo local || echo actorvol)
    round "$driver" "$key-$r-$$"
    starts[$key]+="$START_MS "
    removes[$key]+="$REMOVE_MS "
    log "round $r, $key: $containers containers started in $START_MS ms, removed in $REMOVE_MS ms"
  done
done

printf '# %s containers at once, %s rounds (median), loadavg %s\n' "$containers" "$rounds" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| driver | start all, ms | remove all, ms |\n|---|---|---|\n'
declare -A med_s med_r
for key in local actorvol; do
  med_s[$key]=$(tr ' ' '\n' <<<"${starts[$key]}" | grep . | median)
  med_r[$key]=$(tr ' ' '\n' <<<"${removes[$key]}" | grep . | median)
  printf '| %s | %s | %s |\n' "$key" "${med_s[$key]}" "${med_r[$key]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
printf 'actorvol / local: start %sx, remove %sx\n' "$(ratio "${med_s[actorvol]}" "${med_s[local]}")" \
  "$(ratio "${med_r[actorvol]}" "${med_r[local]}")"
if [ -n "$out" ]; then
  : >"$out"
  for key in local actorvol; do
    printf '{"name":"containers.start","scenario":"containers","driver":"%s","value":%s,"unit":"ms","containers":%s,"rounds":%s}\n' \
      "$key" "${med_s[$key]}" "$containers" "$rounds" >>"$out"
    printf '{"name":"containers.remove","scenario":"containers","driver":"%s","value":%s,"unit":"ms","containers":%s,"rounds":%s}\n' \
      "$key" "${med_r[$key]}" "$containers" "$rounds" >>"$out"
  done
fi

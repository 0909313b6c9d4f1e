#!/usr/bin/env bash
# The plugin goes away under a workload and comes back: every volume is still listed, no
# data is lost, and later Unmounts (of mounts made before) work.
#   legacy:  kill -9 mid-workload, start again on the same root.
#   managed: disable/enable between rounds; then `docker plugin disable -f` while a
#            container holds volumes (what happens is logged as "observed: ...").
source "$(dirname "$0")/lib.sh"
e2e_require
start_plugin
vols=()
for i in 1 2 3; do vols+=("actorvol-e2e-rs-$$-$i"); make_volume "actorvol-e2e-rs-$$-$i"; done

check_all() {   # every volume listed, its data intact
  local v
  for v in "${vols[@]}"; do
    docker volume ls -q --filter "driver=$E2E_DRIVER" | grep -qxF "$v" || fail "$v not listed after $1"
    expect_eq "$(run --rm -v "$v:/data" busybox:e2e cat /data/id)" "$v" "data of $v after $1"
  done
}
no_failed_unmount() {
  plugin_log | grep "endpoint=/VolumeDriver.Unmount " | grep -v "status=200" \
    && fail "an Unmount failed"
  return 0
}

if [ "$E2E_FORM" = legacy ]; then
  for v in "${vols[@]}"; do
    run -d --name "$E2E_TAG-$v" -v "$v:/data" busybox:e2e sh -c "echo $v > /data/id; exec sleep 300" >/dev/null
  done
  # A burst of short containers is running when the plugin dies.
  burst=()
  for c in $(seq 1 6); do
    run --rm -v "${vols[$(( c % 3 ))]}:/data" busybox:e2e sh -c 'cat /data/id; sleep 1' \
      >/dev/null 2>&1 &
    burst+=($!)
  done
  sleep 0.7
  kill -9 "$E2E_PID"
  sleep 0.5
  # Started again at once (as a supervisor would): the killed plugin's socket file is still
  # there and gets replaced. Docker retries a request to a plugin that is down (1, 2, 4, 8 s,
  # ~15 s in all), so the burst's Mounts and Unmounts arrive after the restart. (A plugin down
  # for longer loses those Unmounts for good: Docker never repeats them; see reconcile.sh.)
  start_plugin
  failed=0   # a container may fail while the plugin is down: that is Docker's answer
  for p in "${burst[@]}"; do wait "$p" || failed=$(( failed + 1 )); done
  log "observed: $failed of 6 containers of the burst failed across the kill"
  for _ in $(seq 1 60); do
    total=0
    for v in "${vols[@]}"; do total=$(( total + $(mounts_of "$v") )); done
    [ "$total" = 3 ] && break
    sleep 0.5
  done
  for v in "${vols[@]}"; do
    expect_eq "$(mounts_of "$v")" "1" "the long container's use of $v after the restart"
    expect_eq "$(docker exec "$E2E_TAG-$v" cat /data/id)" "$v" "data of $v in its container"
  done
  for v in "${vols[@]}"; do docker rm -f "$E2E_TAG-$v" >/dev/null; done
  for v in "${vols[@]}"; do expect_eq "$(mounts_of "$v")" "0" "pre-crash use of $v unmounted"; done
  check_all "kill -9"
  no_failed_unmount
else
  for v in "${vols[@]}"; do
    run --rm -v "$v:/data" busybox:e2e sh -c "echo $v > /data/id"
  done
  # Round 1: disable and enable with volumes but no containers. Docker counts each volume
  # as a reference to the plugin, so a plain disable is refused while any volume exists.
  if docker plugin disable "$E2E_PLUGIN" 2>"$E2E_TMP/disable.err"; then
    log "observed: plain disable with volumes present succeeded"
  else
    log "observed: plain disable with volumes present refused: $(cat "$E2E_TMP/disable.err")"
  fi
  at_exit enable_managed
  disable_managed -f
  enable_managed
  check_all "disable -f / enable"
  for v in "${vols[@]}"; do expect_eq "$(mounts_of "$v")" "0" "uses of $v after round 1"; done

  # Round 2: disable -f while a container holds two volumes (one dir, one tmpfs).
  t=actorvol-e2e-rstmpfs-$$
  make_volume "$t" -o type=tmpfs -o o=size=8m
  c=$E2E_TAG-hold
  run -d --name "$c" -v "${vols[0]}:/data" -v "$t:/fast" busybox:e2e \
    sh -c 'echo kept > /fast/f; exec sleep 300' >/dev/null
  expect_eq "$(mounts_of "${vols[0]}")" "1" "uses while held"
  disable_managed -f
  log "observed: after disable -f the container is $(docker inspect -f '{{.State.Status}}' "$c")"
  log "observed: in the container, dir volume reads '$(docker exec "$c" cat /data/id 2>&1)'," \
      "tmpfs volume reads '$(docker exec "$c" cat /fast/f 2>&1)'"
  enable_managed
  log "observed: after enable, uses: ${vols[0]}=$(mounts_of "${vols[0]}") $t=$(mounts_of "$t");" \
      "Get Status: $(plugin_call /VolumeDriver.Get "{\"Name\":\"$t\"}")"
  expect_eq "$(mounts_of "${vols[0]}")" "1" "the held use of ${vols[0]} survives disable -f"
  expect_eq "$(mounts_of "$t")" "1" "the held use of $t survives disable -f"
  expect_eq "$(docker exec "$c" cat /data/id)" "${vols[0]}" "dir volume in the container after enable"
  docker rm -f "$c" >/dev/null
  for v in "${vols[0]}" "$t"; do expect_eq "$(mounts_of "$v")" "0" "uses of $v after the container"; done
  no_failed_unmount
  check_all "disable -f under a container"
  docker volume rm "$t" >/dev/null || fail "rm $t"
fi
for v in "${vols[@]}"; do docker volume rm "$v" >/dev/null || fail "rm $v"; done
log "ok"

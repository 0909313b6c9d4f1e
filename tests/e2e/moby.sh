#!/usr/bin/env bash
# Scenarios of moby's external volume driver test (integration-cli/
# docker_cli_external_volume_driver_unix_test.go) that apply to a real plugin, counted in
# the plugin's own request log:
#   - Capabilities is asked at most once per legacy driver; Scope is reported
#   - Get comes before Create; inspect of an unknown volume asks Get and says "no such volume"
#   - a named volume made by `docker run --volume-driver`: one Create/Mount/Unmount, one Remove
#   - an anonymous volume of `docker run --rm`: one each of Create, Mount, Unmount, Remove
#   - --volumes-from: two Mounts, two Unmounts
#   - no Unmount after a failed Mount (also with -w into the volume)
#   - legacy: a driver whose socket appears only after `docker run` started is still found
source "$(dirname "$0")/lib.sh"
e2e_require
start_plugin
D=$E2E_DRIVER
delta() { echo $(( $(calls_of "$@") - ${base[$1]} )); }
declare -A base
mark() { local e; for e in Plugin.Activate VolumeDriver.Capabilities VolumeDriver.Create \
  VolumeDriver.Get VolumeDriver.Mount VolumeDriver.Unmount VolumeDriver.Remove; do
  base[$e]=$(calls_of $e); done; }
settle() { sleep 0.5; }   # the managed plugin's log reaches dockerd's log a little later

# Capabilities at most once for a legacy driver: Docker keeps the answer for the daemon's life
# (so 0 when an earlier test already used this driver name). A managed plugin gets a new
# adapter in Docker at every lookup, and each asks again (Docker 20.10): only logged.
for i in 0 1 2; do
  make_volume "actorvol-e2e-caps$i-$$"
  expect_eq "$(docker volume inspect -f '{{.Scope}}' "actorvol-e2e-caps$i-$$")" local "Scope"
done
settle
caps=$(calls_of VolumeDriver.Capabilities)
if [ "$E2E_FORM" = legacy ]; then
  [ "$caps" -le 1 ] || fail "Capabilities asked $caps times for 3 creates"
else
  log "observed: Capabilities asked $caps times for 3 creates and 3 inspects"
fi
for i in 0 1 2; do docker volume rm "actorvol-e2e-caps$i-$$" >/dev/null; done

# Get before Create, and inspect of an unknown name.
missing=actorvol-e2e-missing-$$
out=$(docker volume inspect "$missing" 2>&1) && fail "inspect of a missing volume succeeded"
grep -qi "no such volume" <<<"$out" || fail "inspect of a missing volume: $out"
wait_calls VolumeDriver.Get 1 "$missing" || fail "inspect of an unknown name did not ask Get"
v=actorvol-e2e-order-$$
make_volume "$v"
settle
first=$(plugin_log | grep "volume=$v " | head -2 | sed -n 's/.*endpoint=\/\([A-Za-z.]*\) .*/\1/p' | tr '\n' ' ')
expect_eq "$first" "VolumeDriver.Get VolumeDriver.Create " "the first requests naming $v"
docker volume rm "$v" >/dev/null

# A named volume created by docker run --volume-driver.
n=actorvol-e2e-named-$$
forget_volume "$n"
mark
run --rm -v "$n:/ext" --volume-driver "$D" busybox:e2e sh -c 'echo hi > /ext/test; cat /ext/test' >/dev/null
docker volume rm "$n" >/dev/null
settle
for e in Create Mount Unmount Remove; do
  expect_eq "$(delta VolumeDriver.$e)" 1 "$e calls for a named volume of docker run"
done
[ -e "$(volume_dir "$n")" ] && fail "data of $n left after rm"

# An anonymous volume of docker run --rm: created, used, and removed with the container.
mark
run --rm -v /ext --volume-driver "$D" busybox:e2e sh -c 'echo hi > /ext/test' >/dev/null
settle
for e in Create Mount Unmount Remove; do
  expect_eq "$(delta VolumeDriver.$e)" 1 "$e calls for an anonymous volume of docker run --rm"
done

# --volumes-from: the second container mounts the first one's volume again.
c=$E2E_TAG-vf
mark
run --name "$c" -v /foo --volume-driver "$D" busybox:e2e true
run --rm --volumes-from "$c" busybox:e2e ls /foo >/dev/null
docker rm -fv "$c" >/dev/null
settle
for e in Create:1 Mount:2 Unmount:2 Remove:1; do
  expect_eq "$(delta VolumeDriver.${e%:*})" "${e#*:}" "${e%:*} calls with --volumes-from"
done

# No Unmount after a failed Mount: a bind of a device that does not exist fails at Mount.
f=actorvol-e2e-badmount-$$
make_volume "$f" -o type=none -o o=bind -o device=/nonexistent-actorvol-e2e
mark
run --rm -v "$f:/foo" busybox:e2e true 2>"$E2E_TMP/bad1" && fail "a container with a failing Mount ran"
run --rm -w /foo -v "$f:/foo" busybox:e2e true 2>"$E2E_TMP/bad2" && fail "a container (-w) with a failing Mount ran"
settle
grep -q "no such file or directory" "$E2E_TMP/bad1" || fail "the Mount error Docker shows: $(cat "$E2E_TMP/bad1")"
expect_eq "$(delta VolumeDriver.Mount)" 2 "Mount calls that failed"
expect_eq "$(delta VolumeDriver.Unmount)" 0 "Unmount calls after failed Mounts"
expect_eq "$(mounts_of "$f")" 0 "uses after failed Mounts"
docker volume rm "$f" >/dev/null

# Legacy: the driver's socket appears 2 s after docker run asked for it (Docker retries;
# moby's test uses a driver Docker never saw, we a known one whose plugin is down).
if [ "$E2E_FORM" = legacy ]; then
  # The same driver name (see lib.sh): stop the plugin, then ask for its driver.
  late=$E2E_DRIVER
  lv=actorvol-e2e-latevol-$$
  kill -TERM "$E2E_PID"
  for _ in $(seq 1 50); do kill -0 "$E2E_PID" 2>/dev/null || break; sleep 0.1; done
  rm -f "$E2E_SOCKET"
  forget_volume "$lv"
  mark
  run --rm -v "$lv:/ext" --volume-driver "$late" busybox:e2e true >"$E2E_TMP/late.out" 2>&1 &
  runner=$!
  sleep 2
  start_legacy "$late" "$E2E_TMP/lateroot"
  for _ in $(seq 1 150); do kill -0 $runner 2>/dev/null || break; sleep 0.1; done
  kill -0 $runner 2>/dev/null && fail "docker run with a late driver still waits after 15 s"
  wait $runner || fail "docker run with a late driver: $(cat "$E2E_TMP/late.out")"
  docker volume rm "$lv" >/dev/null
  for e in Create Mount Unmount Remove; do
    expect_eq "$(delta VolumeDriver.$e)" 1 "$e calls to the late driver"
  done
fi
log "ok"

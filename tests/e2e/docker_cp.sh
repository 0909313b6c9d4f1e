#!/usr/bin/env bash
# `docker cp` into and out of a running container whose volume is mounted: Docker mounts
# the volume again with the container's ID and unmounts it after. The counts stay exact
# (moby's "Mount/Unmount counts around docker cp") and the volume is never detached under
# the container. A tmpfs volume makes a wrong detach visible: its data would vanish.
source "$(dirname "$0")/lib.sh"
e2e_require
start_plugin
c=$E2E_TAG-cp
v=actorvol-e2e-cp-$$
t=actorvol-e2e-cptmpfs-$$
make_volume "$v"
make_volume "$t" -o type=tmpfs -o o=size=8m
mounts0=$(calls_of VolumeDriver.Mount "$t")
run -d --name "$c" -v "$v:/data" -v "$t:/fast" busybox:e2e \
  sh -c 'echo before > /data/f; echo before > /fast/f; exec sleep 300' >/dev/null
wait_calls VolumeDriver.Mount $(( mounts0 + 1 )) "$t" || fail "no Mount for the container"
expect_eq "$(mounts_of "$v")" "1" "uses of $v while running"
expect_eq "$(mounts_of "$t")" "1" "uses of $t while running"

# Waits until Docker has sent as many Unmounts of $t as Mounts since the counts M0 and U0;
# prints how many Mounts that was.
balanced_since() {
  local m0=$1 u0=$2 dm du
  for _ in $(seq 1 50); do
    dm=$(( $(calls_of VolumeDriver.Mount "$t") - m0 ))
    du=$(( $(calls_of VolumeDriver.Unmount "$t") - u0 ))
    [ "$dm" -ge 1 ] && [ "$dm" = "$du" ] && { echo "$dm"; return 0; }
    sleep 0.2
  done
  fail "Mounts/Unmounts of $t around docker cp: $dm/$du"
}
# docker cp into the container: Docker 20.10 stats the destination, then extracts; each of
# the two mounts the container's volumes again (same ID) and unmounts them after.
m=$(calls_of VolumeDriver.Mount "$t")
u=$(calls_of VolumeDriver.Unmount "$t")
echo copied-in >"$E2E_TMP/payload"
docker cp "$E2E_TMP/payload" "$c:/fast/payload"
n=$(balanced_since "$m" "$u")
log "docker cp in: $n Mount(s) and as many Unmounts of $t"
expect_eq "$(mounts_of "$t")" "1" "uses of $t after docker cp in"
expect_eq "$(docker exec "$c" cat /fast/payload)" "copied-in" "docker cp reached the volume"

# docker cp out of the container: one more Mount and one more Unmount (as in moby's test).
m=$(calls_of VolumeDriver.Mount "$t")
u=$(calls_of VolumeDriver.Unmount "$t")
docker cp "$c:/fast/f" "$E2E_TMP/out"
expect_eq "$(balanced_since "$m" "$u")" 1 "Mounts of $t by docker cp out"
expect_eq "$(cat "$E2E_TMP/out")" "before" "docker cp out of the volume"
expect_eq "$(mounts_of "$t")" "1" "uses of $t after docker cp out"
expect_eq "$(mounts_of "$v")" "1" "uses of $v after both copies"
# Still attached under the container: the tmpfs still holds what the container wrote.
expect_eq "$(docker exec "$c" cat /fast/f)" "before" "tmpfs data in the container"
expect_eq "$(run --rm -v "$t:/fast" busybox:e2e cat /fast/f)" "before" \
  "a second container sees the same tmpfs (not re-made under the first)"
docker exec "$c" sh -c 'echo after > /data/after' || fail "the container lost its volume"

u=$(calls_of VolumeDriver.Unmount "$t")
docker kill "$c" >/dev/null
wait_calls VolumeDriver.Unmount $(( u + 1 )) "$t" || fail "no Unmount when the container died"
docker rm -f "$c" >/dev/null
expect_eq "$(mounts_of "$v")" "0" "uses of $v after the container is gone"
expect_eq "$(mounts_of "$t")" "0" "uses of $t after the container is gone"
plugin_log | grep "endpoint=/VolumeDriver.Unmount" | grep -v "status=200" \
  && fail "an Unmount failed"
docker volume rm "$v" "$t" >/dev/null
log "ok"

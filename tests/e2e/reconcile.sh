#!/usr/bin/env bash
# A dockerd restart with a container running (legacy form; issue 3's reconcile test).
# dockerd is killed with -9 and started again: the container dies with it and Docker never
# sends its Unmounts. With --docker-socket, actorvol drops the stale use once it is older
# than the grace period, and `docker volume rm` succeeds; without the flag the use stays.
# Needs the dockerd that .ci/docker-env.sh started (it restarts it).
source "$(dirname "$0")/lib.sh"
[ "$E2E_FORM" = legacy ] || skip "the reconcile test runs in the legacy form only"
e2e_require
env_sh="$E2E_DIR/../../.ci/docker-env.sh"
pidfile=${ACTORVOL_CI_RUN:-/run/actorvol-ci}/dockerd.pid
pid=$(cat "$pidfile" 2>/dev/null || true)
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || skip "dockerd was not started by .ci/docker-env.sh start"
engine=${DOCKER_HOST:-unix:///var/run/docker.sock}
engine=${engine#unix://}
[ -S "$engine" ] || skip "no Docker Engine socket at $engine"

start_legacy actorvol-e2e "$E2E_TMP/on" --docker-socket "$engine" \
  --reconcile-interval 1 --reconcile-grace 3
on_driver=$E2E_DRIVER on_socket=$E2E_SOCKET on_log=$E2E_LOG
start_legacy actorvol-e2e-off "$E2E_TMP/off"
off_driver=$E2E_DRIVER off_socket=$E2E_SOCKET off_log=$E2E_LOG
use() { E2E_DRIVER=$1 E2E_SOCKET=$2 E2E_LOG=$3; }
a=actorvol-e2e-rcon-$$
b=actorvol-e2e-rcoff-$$
use $on_driver $on_socket $on_log; make_volume "$a"
use $off_driver $off_socket $off_log; make_volume "$b"
c=$E2E_TAG-held
run -d --name "$c" -v "$a:/a" -v "$b:/b" busybox:e2e sh -c 'echo kept > /a/f; exec sleep 600' >/dev/null

# A running container's use is never dropped, however old.
sleep 5
use $on_driver $on_socket $on_log
expect_eq "$(mounts_of "$a")" 1 "the running container's use of $a after the grace period"
grep -q "event=reconcile-drop" "$on_log" && fail "a use of a running container was dropped"

log "kill -9 dockerd with $c running"
bash "$env_sh" restart9 || fail "dockerd did not come back"
log "observed: after the restart the container is $(docker inspect -f '{{.State.Status}}' "$c" 2>&1)"
for _ in $(seq 1 150); do [ "$(mounts_of "$a")" = 0 ] && break; sleep 0.2; done
expect_eq "$(mounts_of "$a")" 0 "the dead container's use of $a, with --docker-socket"
grep -q "event=reconcile-drop.*volume=$a" "$on_log" || fail "no reconcile-drop logged for $a"
expect_eq "$(calls_of VolumeDriver.Unmount)" 0 "Unmounts Docker sent for $a"
# The exited container still holds Docker's own reference; removing it sends no Unmount.
docker rm "$c" >/dev/null
expect_eq "$(calls_of VolumeDriver.Unmount)" 0 "Unmounts for $a after docker rm of the container"
docker volume rm "$a" >/dev/null || fail "rm $a after the reconcile"
expect_eq "$(run --rm -v "$b:/b" busybox:e2e true && echo ran)" ran "a new container on $b"

use $off_driver $off_socket $off_log
expect_eq "$(mounts_of "$b")" 1 "the dead container's use of $b, without --docker-socket"
expect_eq "$(calls_of VolumeDriver.Unmount)" 1 "Unmounts on $b (only the new container's)"
grep -q "event=reconcile-drop" "$off_log" && fail "a drop without --docker-socket"
docker volume rm "$b" 2>/dev/null && fail "rm of $b with a stale use succeeded"
log "ok"

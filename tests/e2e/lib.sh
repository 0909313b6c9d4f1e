# Shared by the end-to-end tests: a real dockerd drives actorvol through real containers.
# A test is run as `bash TEST.sh FORM BINARY` (FORM: legacy or managed) and starts with
#   source "$(dirname "$0")/lib.sh"; e2e_require; start_plugin
# then drives Docker with the helpers below; `fail MSG` ends it.
#   legacy:  BINARY runs on the host as driver actorvol-e2e (socket
#            /run/docker/plugins/actorvol-e2e.sock), its root and log in the test's temp dir.
#            The name is the same for every test, on purpose: dockerd (20.10) remembers every
#            legacy driver it ever used and asks each one on `docker volume ls` and on any
#            lookup of an unknown name, retrying a dead one for ~15 s. Fresh names per test
#            would make every later such call slower; tests run serially, so one name is safe.
#            For the same reason the tests list with `docker volume ls --filter driver=...`
#            (asks that driver only) and never look up unknown names but where that is the
#            point.
#   managed: the plugin $ACTORVOL_E2E_PLUGIN (default actorvol-e2e:latest), created once by
#            the e2e.managed.build fixture; its log is dockerd's (ACTORVOL_DOCKERD_LOG).
# ACTORVOL_E2E_KEEP=1 keeps each test's temp dir (plugin logs, roots) for a look after.
# Exit 77 means skipped (ctest SKIP_RETURN_CODE); under CI=true a skip is a failure.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TEST=$(basename "$0" .sh)
E2E_FORM=${1:-legacy}
E2E_BINARY=${2:-${ACTORVOL_BINARY:-}}
E2E_PLUGIN=${ACTORVOL_E2E_PLUGIN:-actorvol-e2e:latest}
E2E_DOCKERD_LOG=${ACTORVOL_DOCKERD_LOG:-/var/lib/actorvol-ci/dockerd.log}
E2E_TAG=$E2E_TEST-$$
E2E_TMP=""
E2E_PIDS=()
E2E_SOCKETS=()
E2E_VOLUMES=()
E2E_DRIVERS=()
E2E_CLEANUPS=()
E2E_LOG=""
E2E_LOG_FROM=1
E2E_DRIVER=""
E2E_SOCKET=""
E2E_PLUGIN_ID=""

log() { printf '%s [%s %s] %s\n' "$(date +%T)" "$E2E_FORM" "$E2E_TEST" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

skip() {
  if [ "${CI:-}" = true ]; then
    log "FAIL (a skip under CI=true): $*"
    exit 1
  fi
  log "SKIP: $*"
  exit 77
}

# Skips (exit 77) unless root, a docker CLI, a daemon, and the busybox:e2e image are there.
e2e_require() {
  case "$E2E_FORM" in legacy|managed) ;; *) fail "FORM must be legacy or managed, not '$E2E_FORM'" ;; esac
  [ "$(id -u)" = 0 ] || skip "needs root to drive dockerd and mounts"
  command -v docker >/dev/null || skip "no docker CLI (bash .ci/docker-env.sh start)"
  command -v curl >/dev/null || skip "no curl (apt-get install curl)"
  docker info >/dev/null 2>&1 || skip "no Docker daemon answers (bash .ci/docker-env.sh start)"
  docker image inspect busybox:e2e >/dev/null 2>&1 \
    || skip "no busybox:e2e image (bash .ci/docker-env.sh images)"
  if [ "$E2E_FORM" = legacy ]; then
    [ -n "$E2E_BINARY" ] && [ -x "$E2E_BINARY" ] || fail "no actorvol binary given"
  else
    docker plugin inspect "$E2E_PLUGIN" >/dev/null 2>&1 \
      || fail "no plugin $E2E_PLUGIN (the e2e.managed.build fixture makes it)"
    [ -r "$E2E_DOCKERD_LOG" ] || skip "dockerd's log $E2E_DOCKERD_LOG is not readable (set ACTORVOL_DOCKERD_LOG)"
  fi
  E2E_TMP=$(mktemp -d /tmp/actorvol-e2e.XXXXXX)
}

cleanup() {
  local rc=$? ids c v p s
  set +e
  for c in "${E2E_CLEANUPS[@]}"; do ( eval "$c" ) >/dev/null 2>&1; done
  ids=$(docker ps -aq --filter "label=actorvol-e2e=$E2E_TAG" 2>/dev/null)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  # Only volumes Docker still lists: a lookup of a missing name asks every driver.
  local d listed=""
  for d in "${E2E_DRIVERS[@]}"; do
    listed+=" $(docker volume ls -q --filter "driver=$d" 2>/dev/null | tr '\n' ' ')"
  done
  for v in "${E2E_VOLUMES[@]}"; do
    [[ " $listed " == *" $v "* ]] && docker volume rm -f "$v" >/dev/null 2>&1
  done
  if [ $rc != 0 ] && [ $rc != 77 ] && [ -n "$E2E_DRIVER" ]; then
    log "plugin log (last 40 lines):"
    plugin_log 2>/dev/null | tail -40 >&2
  fi
  for p in "${E2E_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${E2E_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  # A dead plugin's socket left in /run/docker/plugins costs every later lookup ~30 s.
  for s in "${E2E_SOCKETS[@]}"; do rm -f "$s"; done
  if [ -n "$E2E_TMP" ]; then
    grep " $E2E_TMP" /proc/self/mountinfo | awk '{print $5}' | sort -r \
      | while read -r m; do umount -l "$m"; done
    if [ -n "${ACTORVOL_E2E_KEEP:-}" ]; then
      log "kept $E2E_TMP (ACTORVOL_E2E_KEEP)"
    else
      rm -rf --one-file-system "$E2E_TMP"
    fi
  fi
  exit $rc
}
trap cleanup EXIT

# Runs CMD at exit (before containers and volumes are removed).
at_exit() { E2E_CLEANUPS+=("$*"); }

# Starts the plugin for this test; sets E2E_DRIVER (the -d of docker volume create),
# E2E_SOCKET (for plugin_call) and where plugin_log reads.
#   legacy: start_plugin [actorvol flags...]  (driver actorvol-e2e, root $E2E_TMP/root)
#   managed: enables $E2E_PLUGIN when it is disabled
start_plugin() {
  if [ "$E2E_FORM" = legacy ]; then
    start_legacy "${ACTORVOL_E2E_LEGACY:-actorvol-e2e}" "$E2E_TMP/root" "$@"
  else
    E2E_DRIVER=$E2E_PLUGIN
    E2E_LOG_FROM=$(( $(wc -l <"$E2E_DOCKERD_LOG") + 1 ))
    enable_managed
  fi
  E2E_DRIVERS+=("$E2E_DRIVER")
}

# Legacy: starts BINARY as driver NAME on ROOT, its log appended to $E2E_TMP/NAME.log.
start_legacy() {
  local name=$1 root=$2
  shift 2
  E2E_DRIVER=$name
  E2E_SOCKET=/run/docker/plugins/$name.sock
  E2E_LOG=$E2E_TMP/$name.log
  E2E_SOCKETS+=("$E2E_SOCKET")
  E2E_DRIVERS+=("$name")
  if [ -S "$E2E_SOCKET" ] && plugin_call /Plugin.Activate '{}' >/dev/null 2>&1; then
    fail "another plugin serves $E2E_SOCKET (another e2e test running?)"
  fi
  "$E2E_BINARY" --socket "$E2E_SOCKET" --root "$root" "$@" >>"$E2E_LOG" 2>&1 &
  E2E_PID=$!
  disown "$E2E_PID"
  E2E_PIDS+=("$E2E_PID")
  wait_answering || fail "plugin $name did not start: $(tail -5 "$E2E_LOG")"
  # E2E_EXPECT_LOG=TEXT: the start must log TEXT (e.g. that the socket was passed to it).
  if [ -n "${E2E_EXPECT_LOG:-}" ] && ! grep -qF -- "$E2E_EXPECT_LOG" "$E2E_LOG"; then
    fail "the plugin's log lacks '$E2E_EXPECT_LOG': $(tail -5 "$E2E_LOG")"
  fi
}

# Managed: enables the plugin if needed and finds its socket (/run/docker/plugins/ID/).
enable_managed() {
  if [ "$(docker plugin inspect -f '{{.Enabled}}' "$E2E_PLUGIN")" != true ]; then
    docker plugin enable "$E2E_PLUGIN" >/dev/null || fail "docker plugin enable $E2E_PLUGIN"
  fi
  E2E_PLUGIN_ID=$(docker plugin inspect -f '{{.ID}}' "$E2E_PLUGIN")
  E2E_SOCKET=/run/docker/plugins/$E2E_PLUGIN_ID/actorvol.sock
  [ -S "$E2E_SOCKET" ] || E2E_SOCKET=$(find /run /var/run -maxdepth 6 -path "*$E2E_PLUGIN_ID*" \
    -name actorvol.sock 2>/dev/null | head -1)
  wait_answering || fail "managed plugin $E2E_PLUGIN does not answer on '$E2E_SOCKET'"
}

disable_managed() {
  docker plugin disable "$@" "$E2E_PLUGIN" >/dev/null
}

wait_answering() {
  for _ in $(seq 1 100); do
    [ -S "$E2E_SOCKET" ] && plugin_call /Plugin.Activate '{}' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# POSTs JSON to the plugin's socket; prints the answer body.
plugin_call() {
  curl -s --max-time 30 --unix-socket "$E2E_SOCKET" -X POST "http://plugin$1" -d "$2"
}

# The total mount count in the plugin's own Get Status for volume NAME (empty on error).
mounts_of() {
  plugin_call /VolumeDriver.Get "{\"Name\":\"$1\"}" | sed -n 's/.*"Mounts":\([0-9]*\).*/\1/p'
}

# The plugin's log since start_plugin: one line per request, `endpoint=/X volume=NAME ...`.
plugin_log() {
  if [ "$E2E_FORM" = legacy ]; then
    cat "$E2E_LOG"
  else
    tail -n +"$E2E_LOG_FROM" "$E2E_DOCKERD_LOG" | grep -F "plugin=$E2E_PLUGIN_ID" || true
  fi
}

# How many requests to ENDPOINT (e.g. VolumeDriver.Mount) [for volume NAME] were logged.
calls_of() {
  local n
  if [ -n "${2:-}" ]; then
    n=$(plugin_log | grep "endpoint=/$1 " | grep -c "volume=$2 ") || true
  else
    n=$(plugin_log | grep -c "endpoint=/$1 ") || true
  fi
  echo "${n:-0}"
}

# Waits up to 10 s for the log to show at least COUNT calls of ENDPOINT [for NAME]: the
# managed plugin's log reaches dockerd's log through a pipe, a little after the answer.
wait_calls() {
  local endpoint=$1 count=$2 name=${3:-}
  for _ in $(seq 1 100); do
    [ "$(calls_of "$endpoint" "$name")" -ge "$count" ] && return 0
    sleep 0.1
  done
  return 1
}

# docker volume create with the test's driver; remembered for cleanup.
make_volume() {
  local v=$1
  shift
  docker volume create -d "$E2E_DRIVER" "$@" "$v" >/dev/null || fail "volume create $v"
  E2E_VOLUMES+=("$v")
}
forget_volume() { E2E_VOLUMES+=("$1"); }

# docker run with the test's label and no network.
run() {
  docker run --label "actorvol-e2e=$E2E_TAG" --network none "$@"
}

expect_eq() {
  [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"
}

# Docker's Mountpoint for volume NAME is where this form puts it: ROOT/volumes/NAME/_data,
# with ROOT the legacy plugin's --root, or the managed plugin's /mnt/volumes (the path inside
# the plugin, as Docker reports it).
expect_mountpoint() {
  local v=$1 mp
  mp=$(docker volume inspect -f '{{.Mountpoint}}' "$v")
  if [ "$E2E_FORM" = legacy ]; then
    expect_eq "$mp" "$E2E_TMP/root/volumes/$v/_data" "inspect Mountpoint of $v"
    [ -d "$mp" ] || fail "Mountpoint $mp of $v is not a directory on the host"
  else
    expect_eq "$mp" "/mnt/volumes/volumes/$v/_data" "inspect Mountpoint of $v"
  fi
}

# The host directory holding volume NAME's record and data (ROOT/volumes/NAME).
volume_dir() {
  if [ "$E2E_FORM" = legacy ]; then
    echo "$E2E_TMP/root/volumes/$1"
  else
    echo "$(docker info -f '{{.DockerRootDir}}')/plugins/$E2E_PLUGIN_ID/propagated-mount/volumes/$1"
  fi
}

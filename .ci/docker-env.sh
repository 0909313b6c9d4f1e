#!/usr/bin/env bash
# A Docker engine for the end-to-end tests, on a machine without a registry.
#   start     install docker.io, busybox-static, debootstrap if missing; start dockerd in the
#             background (log: $ACTORVOL_CI_STATE/dockerd.log); wait until it answers (60 s)
#   images    busybox:e2e (a busybox-static rootfs) and debian:bookworm (debootstrap
#             --variant=minbase, cached in $ACTORVOL_CI_CACHE)
#   restart9  kill -9 dockerd and start it again with the same flags (the reconcile tests)
#   stop      remove what the tests left (containers, actorvol* plugins and their images,
#             volumes), stop the dockerd this script started, unmount leftovers and detach
#             our loop devices
#   log       print the path of dockerd's log (a managed plugin's stderr lands there)
# Every subcommand is idempotent. dockerd serves the default socket, so `docker` needs no
# flags; one started by someone else is used as it is and never stopped.
# A second, private engine (e.g. beside a developer's own): set ACTORVOL_CI_HOST=/path.sock
# (its socket), ACTORVOL_CI_STATE and ACTORVOL_CI_RUN (its directories), and run the tests
# with DOCKER_HOST=unix:///path.sock.
set -euo pipefail
state=${ACTORVOL_CI_STATE:-/var/lib/actorvol-ci}
run=${ACTORVOL_CI_RUN:-/run/actorvol-ci}
cache=${ACTORVOL_CI_CACHE:-/var/cache/actorvol-ci}
host=()
if [ -n "${ACTORVOL_CI_HOST:-}" ]; then
  host=(-H "unix://$ACTORVOL_CI_HOST")
  export DOCKER_HOST=unix://$ACTORVOL_CI_HOST
fi
log=$state/dockerd.log
pidfile=$run/dockerd.pid

say() { printf 'docker-env: %s\n' "$*" >&2; }

install_missing() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v curl >/dev/null || missing+=(curl)
  [ ${#missing[@]} = 0 ] && return 0
  say "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >/dev/null
}

our_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Legacy plugin sockets with no process behind them (a killed plugin leaves its socket).
# dockerd tries every socket in /run/docker/plugins on `docker volume ls` (even with a driver
# filter) and on lookups of unknown names, and retries a dead one for 15 s each time.
remove_stale_sockets() {
  local s
  for s in /run/docker/plugins/*.sock; do
    [ -S "$s" ] || continue
    curl -s -m 2 --unix-socket "$s" -X POST http://plugin/Plugin.Activate >/dev/null 2>&1 \
      || rm -f "$s"
  done
}

start_dockerd() {
  mkdir -p "$state" "$run"
  remove_stale_sockets
  dockerd "${host[@]}" --iptables=false --ip6tables=false --bridge=none \
    --data-root "$state/docker" --exec-root "$run/exec" --pidfile "$pidfile" \
    >>"$log" 2>&1 &
  local i
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  say "dockerd did not answer within 60 s; its log:"
  tail -20 "$log" >&2
  return 1
}

make_images() {
  mkdir -p "$cache"
  if ! docker image inspect busybox:e2e >/dev/null 2>&1; then
    local root
    root=$(mktemp -d)
    mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root}
    cp /bin/busybox "$root/bin/busybox"
    chroot "$root" /bin/busybox --install -s /bin
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - busybox:e2e >/dev/null
    rm -rf "$root"
    say "imported busybox:e2e"
  fi
  if ! docker image inspect debian:bookworm >/dev/null 2>&1; then
    if [ ! -s "$cache/bookworm.tar" ]; then
      rm -rf "$cache/bookworm"
      say "debootstrap --variant=minbase bookworm (a few minutes)"
      debootstrap --variant=minbase bookworm "$cache/bookworm" \
        >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
      tar -C "$cache/bookworm" -c . >"$cache/bookworm.tar.tmp"
      mv "$cache/bookworm.tar.tmp" "$cache/bookworm.tar"
      rm -rf "$cache/bookworm"
    fi
    docker import "$cache/bookworm.tar" debian:bookworm >/dev/null
    say "imported debian:bookworm"
  fi
}

stop_all() {
  local pid m d
  if docker info >/dev/null 2>&1; then
    local ids
    ids=$(docker ps -aq --filter label=actorvol-e2e)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    for m in $(docker plugin ls --format '{{.Name}}' 2>/dev/null | grep actorvol || true); do
      docker plugin disable -f "$m" >/dev/null 2>&1 || true
      docker plugin rm -f "$m" >/dev/null 2>&1 || true
    done
    # The images plugin/build.sh made; busybox:e2e and debian:bookworm stay as a cache.
    for m in $(docker images --format '{{.Repository}}:{{.Tag}}' | grep '^actorvol-plugin-' || true); do
      docker rmi -f "$m" >/dev/null 2>&1 || true
    done
    docker image prune -f >/dev/null 2>&1 || true
  fi
  if pid=$(our_pid); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    rm -f "$pidfile"
    # Our daemon's data root holds only test volumes: forget them all, so the next start
    # never looks up a driver that is gone (images stay cached).
    rm -f "$state/docker/volumes/metadata.db"
  fi
  remove_stale_sockets
  # Mounts the tests may have left (deepest first). Under the data root only once our
  # dockerd is gone; a daemon someone else runs keeps its own.
  local pattern=" /(tmp/actorvol-e2e\.|var/tmp/actorvol-plugin\.)"
  our_pid >/dev/null || pattern=" /(tmp/actorvol-e2e\.|var/tmp/actorvol-plugin\.|${state#/}/|${run#/}/)"
  { grep -E "$pattern" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r \
    | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  # Loop devices backing size= volumes of our roots (a managed plugin sees /mnt/volumes).
  losetup -l -n -O NAME,BACK-FILE 2>/dev/null \
    | awk '$2 ~ /actorvol-e2e|actorvol-ci|^\/mnt\/volumes\// {print $1}' \
    | while read -r d; do losetup -d "$d" 2>/dev/null || true; done
  rm -rf --one-file-system /tmp/actorvol-e2e.* /var/tmp/actorvol-plugin.* 2>/dev/null || true
}

case "${1:-}" in
  start)
    install_missing
    docker info >/dev/null 2>&1 && { remove_stale_sockets; exit 0; }
    start_dockerd
    ;;
  images)
    make_images
    ;;
  restart9)
    pid=$(our_pid) || { say "no dockerd started by this script is running"; exit 1; }
    kill -9 "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    rm -f "$pidfile"
    start_dockerd
    ;;
  stop)
    stop_all
    ;;
  log)
    echo "$log"
    ;;
  *)
    echo "usage: $0 start|images|restart9|stop|log" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Podman, a second real client of the volume plugin protocol (tests/e2e/podman.sh BINARY):
# actorvol runs as a legacy plugin named in containers.conf ([engine.volume_plugins]);
# `podman volume create --driver`, a container that writes and one that reads, counts after
# they exit (and while two share the volume), `podman volume rm`. Podman's own storage lives
# in this test's temp dir (vfs), so nothing of the host's Podman is touched.
# Podman differs from Docker (see the README): it asks Get before Create, keeps its own
# mount count and sends one Mount on the first use and one Unmount after the last, with one
# fixed ID for every volume, and it has no `-d` short flag for the driver.
set -euo pipefail
binary=$(realpath "$1")
log() { printf '%s [podman] %s\n' "$(date +%T)" "$*" >&2; }
fail() { log "FAIL: $*"; [ -f "${tmp:-}/actorvol.log" ] && tail -20 "$tmp/actorvol.log" >&2; exit 1; }
skip() {
  [ "${CI:-}" = true ] && { log "FAIL (a skip under CI=true): $*"; exit 1; }
  log "SKIP: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v podman >/dev/null || skip "needs podman (apt-get install podman)"
command -v curl >/dev/null || skip "needs curl"
[ -x /bin/busybox ] || skip "needs busybox-static for the test image"

tmp=$(mktemp -d /tmp/actorvol-podman.XXXXXX)
pid=""
P() { podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs "$@"; }
cleanup() {
  local rc=$?
  set +e
  P rm -fa -t 0 >/dev/null 2>&1
  P volume rm -fa >/dev/null 2>&1
  [ -z "$pid" ] || { kill -TERM "$pid"; wait "$pid"; }
  grep " $tmp" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$tmp"
  exit $rc
}
trap cleanup EXIT

"$binary" --socket "$tmp/actorvol.sock" --root "$tmp/root" >"$tmp/actorvol.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -S "$tmp/actorvol.sock" ] && break; sleep 0.05; done
get() { curl -s --max-time 10 --unix-socket "$tmp/actorvol.sock" -X POST -d "{\"Name\":\"$1\"}" http://plugin/VolumeDriver.Get; }
mounts() { get "$1" | sed -n 's/.*"Mounts":\([0-9]*\).*/\1/p'; }

# Podman's configuration: the plugin, and limits this host lets runc set (Podman raises
# nofile and nproc by default, which needs CAP_SYS_RESOURCE, missing on these VMs).
cat >"$tmp/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"

[engine.volume_plugins]
actorvol-podman = "$tmp/actorvol.sock"
CONF
export CONTAINERS_CONF=$tmp/containers.conf

mkdir -p "$tmp/rootfs/bin"
cp /bin/busybox "$tmp/rootfs/bin/"
chroot "$tmp/rootfs" /bin/busybox --install -s /bin
tar -C "$tmp/rootfs" -c . | P import -c 'ENV PATH=/bin' - busybox:podman >/dev/null \
  || fail "podman import"
run() { P run --rm --network none "$@"; }

v=podman-vol
P volume create --driver actorvol-podman "$v" >/dev/null || fail "podman volume create"
[ "$(P volume inspect -f '{{.Driver}}' "$v")" = actorvol-podman ] || fail "inspect Driver"
get "$v" | grep -q '"Name":"podman-vol"' || fail "actorvol does not know $v: $(get "$v")"
run -v "$v:/data" busybox:podman sh -c 'echo from-podman > /data/f' || fail "writer"
[ "$(run -v "$v:/data" busybox:podman cat /data/f)" = from-podman ] || fail "reader"
[ "$(cat "$tmp/root/volumes/$v/_data/f")" = from-podman ] || fail "the data is not in actorvol's volume"
[ "$(mounts "$v")" = 0 ] || fail "uses after both exited: $(mounts "$v")"

# Two containers at once: Podman counts them itself and mounts once.
c1=$(P run -d --network none -v "$v:/data" busybox:podman sleep 120)
c2=$(P run -d --network none -v "$v:/data" busybox:podman sleep 120)
[ "$(mounts "$v")" = 1 ] || fail "uses while two containers run: $(mounts "$v")"
P rm -f -t 0 "$c1" >/dev/null
[ "$(mounts "$v")" = 1 ] || fail "uses while one container runs: $(mounts "$v")"
P rm -f -t 0 "$c2" >/dev/null
[ "$(mounts "$v")" = 0 ] || fail "uses after both were removed: $(mounts "$v")"

P volume rm "$v" >/dev/null || fail "podman volume rm"
get "$v" | grep -q 'not found' || fail "still there after rm: $(get "$v")"
[ ! -e "$tmp/root/volumes/$v" ] || fail "data left after rm"
for ep in Create Mount Unmount Remove; do
  grep -q "endpoint=/VolumeDriver.$ep volume=$v status=200" "$tmp/actorvol.log" \
    || fail "no successful $ep in actorvol's log"
done
log "ok"

#!/usr/bin/env bash
# deb.sh OUT_DIR: builds the Debian package (plugin/deb.sh: CPack, then lintian, which must
# be clean) and installs it with apt-get into a clean Debian 12 container made from the
# debootstrap image (debian:bookworm, .ci/docker-env.sh images). There it checks what the
# package promises: nothing is enabled or started without systemd, the installed binary
# runs and serves Create/Get/Remove on its default socket and root, and removing and purging
# the package keeps the volumes' data. Needs root, dockerd and a network for apt (the
# container uses the host's, as `docker build --network host` does); skips (77) without
# them, and fails instead under CI=true.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "$1")
skip() {
  if [ "${CI:-}" = true ]; then echo "deb.sh: FAIL: $* (CI=true runs every test)" >&2; exit 1; fi
  echo "deb.sh: skipped: $*"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v lintian >/dev/null && command -v dpkg-buildflags >/dev/null \
  || skip "needs lintian and dpkg-dev (apt-get install lintian dpkg-dev)"
docker info >/dev/null 2>&1 || skip "needs a running dockerd (.ci/docker-env.sh start)"
docker image inspect debian:bookworm >/dev/null 2>&1 \
  || skip "needs the debian:bookworm image (.ci/docker-env.sh images)"

deb=$(bash "$top/plugin/deb.sh" "$out" | tail -1)
[ -f "$deb" ] || { echo "deb.sh: FAIL: no package built" >&2; exit 1; }
case "$(basename "$deb")" in
  actorvol_*_amd64.deb) ;;
  *) echo "deb.sh: FAIL: unexpected package name $(basename "$deb")" >&2; exit 1 ;;
esac

name=actorvol-deb-test-$$
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run --name "$name" --network host -v "$(dirname "$deb"):/deb:ro" \
  -e DEB="/deb/$(basename "$deb")" debian:bookworm bash -c '
set -euo pipefail
fail() { echo "deb.sh (in the container): FAIL: $*" >&2; exit 1; }
apt-get update -q --error-on=any >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$DEB" curl >/tmp/apt.log 2>&1 \
  || { cat /tmp/apt.log; fail "apt-get install of the package"; }
actorvol --version | grep -qx "actorvol [0-9.]*" || fail "actorvol --version: $(actorvol --version)"
[ "$(command -v actorvol)" = /usr/sbin/actorvol ] || fail "not in /usr/sbin"
# No systemd here (a container, as in a chroot or an image build): nothing may be enabled
# or started.
[ ! -e /etc/systemd/system/sockets.target.wants/actorvol.socket ] || fail "socket enabled without systemd"
for c in /proc/[0-9]*/comm; do
  [ "$(cat "$c" 2>/dev/null)" != actorvol ] || fail "postinst started actorvol"
done
[ -f /lib/systemd/system/actorvol.service ] && [ -f /lib/systemd/system/actorvol.socket ] \
  || fail "units missing"
grep -qx /etc/default/actorvol /var/lib/dpkg/info/actorvol.conffiles || fail "conffile"
getent group docker >/dev/null || fail "postinst did not make the socket group docker"

/usr/sbin/actorvol >/tmp/actorvol.log 2>&1 &
sock=/run/docker/plugins/actorvol.sock
for _ in $(seq 1 100); do [ -S $sock ] && break; sleep 0.1; done
call() { curl -s --max-time 30 --unix-socket $sock -X POST "http://plugin/$1" -d "$2"; }
[ "$(call Plugin.Activate "{}")" = "{\"Implements\":[\"VolumeDriver\"]}" ] || fail "Activate"
[ "$(call VolumeDriver.Create "{\"Name\":\"kept\"}")" = "{\"Err\":\"\"}" ] || fail "Create kept"
[ "$(call VolumeDriver.Create "{\"Name\":\"gone\"}")" = "{\"Err\":\"\"}" ] || fail "Create gone"
call VolumeDriver.Get "{\"Name\":\"kept\"}" | grep -q "\"Name\":\"kept\"" || fail "Get"
[ "$(call VolumeDriver.Remove "{\"Name\":\"gone\"}")" = "{\"Err\":\"\"}" ] || fail "Remove"
call VolumeDriver.Get "{\"Name\":\"gone\"}" | grep -q "not found" || fail "Get after Remove"
[ -d /var/lib/actorvol/volumes/kept/_data ] || fail "kept has no data directory"
[ ! -e /var/lib/actorvol/volumes/gone ] || fail "gone still has data"
echo precious >/var/lib/actorvol/volumes/kept/_data/f
kill -TERM %1
wait %1 || fail "actorvol did not stop cleanly: $(cat /tmp/actorvol.log)"

apt-get remove -y -q actorvol >/dev/null 2>&1 || fail "apt-get remove"
apt-get purge -y -q actorvol >/dev/null 2>&1 || fail "apt-get purge"
[ "$(cat /var/lib/actorvol/volumes/kept/_data/f)" = precious ] || fail "purge deleted volume data"
[ -f /var/lib/actorvol/state/.journal.sqlite ] || fail "purge deleted the state journal"
echo "deb.sh: the package installs, serves, and leaves the data on purge"
'
echo "deb.sh: ok ($(basename "$deb"), lintian clean)"

#!/usr/bin/env bash
# device= is a host path, in both forms (the managed plugin resolves it under its /host, the
# host's / bound read-only and rslave): `type=none o=bind device=DIR` shows the host's DIR to
# a container, which reads a host file and writes one the host sees; `o=bind,ro` is
# read-only and the host's DIR stays as it was; a host mount made after the plugin started
# shows up (rslave); docker volume rm never deletes the host's files.
# Managed form only: the plugin's /host is read-only, and a mount made under it inside the
# plugin does not reach the host (rslave, not rshared).
source "$(dirname "$0")/lib.sh"
e2e_require

# All host paths are under the test's temp dir (on the host's /, removed at exit). `shared`
# is a shared bind mount of itself, made before the plugin starts: the host's / may be
# private (then nothing mounted on the host later reaches any other namespace), and a shared
# mount is what a host mount made later (a disk, an NFS export) propagates from.
data=$E2E_TMP/data
shared=$E2E_TMP/shared
mkdir -p "$data" "$shared"
echo from-host >"$data/in.txt"
mount --bind "$shared" "$shared" || fail "bind $shared"
mount --make-shared "$shared" || fail "make $shared shared"
if [ "$E2E_FORM" = managed ]; then
  # Restarted, so that its /host holds `shared` (the e2e.managed.build fixture enabled it).
  if [ "$(docker plugin inspect -f '{{.Enabled}}' "$E2E_PLUGIN")" = true ]; then
    disable_managed || fail "docker plugin disable $E2E_PLUGIN (volumes of it left?)"
  fi
  expect_eq "$(docker plugin inspect -f '{{range .Settings.Env}}{{println .}}{{end}}' "$E2E_PLUGIN" \
    | grep '^ACTORVOL_HOST_ROOT=')" "ACTORVOL_HOST_ROOT=/host" "the plugin's ACTORVOL_HOST_ROOT"
fi
start_plugin

# The host's file reaches the container, and the container's file reaches the host.
rw=actorvol-e2e-hostpath-rw-$$
make_volume "$rw" -o type=none -o o=bind -o "device=$data"
out=$(run --rm -v "$rw:/data" busybox:e2e sh -c 'cat /data/in.txt && echo from-container >/data/out.txt' 2>&1) \
  || fail "container on o=bind device=$data: $out"
expect_eq "$out" "from-host" "the host's file read through o=bind"
[ -f "$data/out.txt" ] || fail "the container's file is not in the host's $data: $(ls -la "$data")"
expect_eq "$(cat "$data/out.txt")" "from-container" "the container's file on the host"
expect_eq "$(mounts_of "$rw")" "0" "uses of $rw after the container"

# o=bind,ro: readable, and no write or delete reaches the host's directory; out of the
# read-only host root ($data) and out of a writable mount ($shared: in the managed form the
# flags must reach the copy Docker binds into the container, not only the plugin's own).
echo from-host >"$shared/in.txt"
echo from-host >"$shared/out.txt"
snapshot() { (cd "$1" && ls -la --time-style=full-iso . && md5sum ./*.txt); }
ros=()
for dir in "$data" "$shared"; do
  ro=actorvol-e2e-hostpath-ro$((${#ros[@]} + 1))-$$
  ros+=("$ro")
  make_volume "$ro" -o type=none -o o=bind,ro -o "device=$dir"
  before=$(snapshot "$dir")
  # Docker may interleave the container's stderr with its stdout anywhere in a line (busybox
  # writes an error's newline apart from its text): the read is marked, and found anywhere.
  out=$(run --rm -v "$ro:/data" busybox:e2e sh -c '
    echo "read:$(cat /data/in.txt)"
    if echo x >/data/new.txt; then echo WROTE; fi
    if rm /data/out.txt; then echo REMOVED; fi
    if echo x >>/data/in.txt; then echo APPENDED; fi' 2>&1) || true
  grep -q "read:from-host" <<<"$out" || fail "o=bind,ro of $dir does not read the host's file: $out"
  grep -qE "WROTE|REMOVED|APPENDED" <<<"$out" && fail "a write through o=bind,ro of $dir succeeded: $out"
  grep -q "Read-only file system" <<<"$out" || fail "o=bind,ro of $dir: writes fail, but not as read-only: $out"
  expect_eq "$(snapshot "$dir")" "$before" "the host's $dir after writes through o=bind,ro"
  expect_eq "$(mounts_of "$ro")" "0" "uses of $ro after the container"
done

# A host mount made after the plugin started shows up under the device path (rslave).
mkdir "$shared/later"
mount -t tmpfs -o size=1m actorvol-e2e-later "$shared/later" || fail "tmpfs on $shared/later"
echo on-later-mount >"$shared/later/t.txt"
later=actorvol-e2e-hostpath-later-$$
make_volume "$later" -o type=none -o o=bind -o "device=$shared/later"
out=$(run --rm -v "$later:/data" busybox:e2e cat /data/t.txt 2>&1) \
  || fail "a host mount made after the plugin started is not seen through device=: $out"
expect_eq "$out" "on-later-mount" "the later host mount read through o=bind"

if [ "$E2E_FORM" = managed ]; then
  # The plugin's process: the one whose rootfs carries plugin/build.sh's stamp for this name.
  pid=""
  for p in $(pgrep -x actorvol); do
    if grep -qxF "name=$E2E_PLUGIN" "/proc/$p/root/etc/actorvol-plugin" 2>/dev/null; then
      pid=$p
      break
    fi
  done
  [ -n "$pid" ] || fail "no actorvol process of $E2E_PLUGIN found"
  # /host is mounted read-only (mountinfo field 6: the mount's own options).
  opts=$(awk '$5 == "/host" {print $6}' "/proc/$pid/mountinfo" | tail -1)
  [ -n "$opts" ] || fail "the plugin has no mount on /host"
  [[ ",$opts," == *,ro,* ]] || fail "the plugin's /host is not read-only: $opts"
  # A mount made under /host inside the plugin does not propagate to the host.
  mkdir "$shared/probe"
  at_exit "nsenter -t $pid -m umount /host$shared/probe"
  nsenter -t "$pid" -m mount -t tmpfs -o size=1m actorvol-e2e-probe "/host$shared/probe" \
    || fail "mount under the plugin's /host$shared"
  grep -q " $shared/probe " /proc/self/mountinfo \
    && fail "a mount under the plugin's /host reached the host (/host is not rslave)"
  nsenter -t "$pid" -m umount "/host$shared/probe" || fail "umount in the plugin"
fi

# docker volume rm detaches and forgets; the host's directories and files stay.
docker volume rm "$rw" "${ros[@]}" "$later" >/dev/null || fail "volume rm"
listed=$(docker volume ls -q --filter "driver=$E2E_DRIVER")
for v in "$rw" "${ros[@]}" "$later"; do
  grep -qxF "$v" <<<"$listed" && fail "$v still listed after rm"
done
expect_eq "$(cat "$data/in.txt" 2>&1)" "from-host" "the host's file after volume rm"
expect_eq "$(cat "$data/out.txt" 2>&1)" "from-container" "the container's file on the host after volume rm"
expect_eq "$(cat "$shared/in.txt" 2>&1)" "from-host" "the host's file in $shared after volume rm"
expect_eq "$(cat "$shared/later/t.txt" 2>&1)" "on-later-mount" "the later mount's file after volume rm"
log "ok"

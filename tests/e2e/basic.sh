#!/usr/bin/env bash
# Volume lifecycle through Docker: create, inspect (Driver, Mountpoint, CreatedAt, Status),
# ls, rm; one container writes and a second reads; rm of a volume in use is refused with its
# data intact; a size= volume is a hard limit (a loop device, in the managed form too).
source "$(dirname "$0")/lib.sh"
e2e_require
start_plugin
v=actorvol-e2e-basic-$$
make_volume "$v"

expect_eq "$(docker volume inspect -f '{{.Driver}}' "$v")" "$E2E_DRIVER" "inspect Driver"
created=$(docker volume inspect -f '{{.CreatedAt}}' "$v")
[[ "$created" =~ ^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:]+ ]] || fail "inspect CreatedAt '$created'"
expect_eq "$(docker volume inspect -f '{{index .Status "Mounts"}}' "$v")" "0" "inspect Status.Mounts"
expect_eq "$(docker volume inspect -f '{{.Scope}}' "$v")" "local" "inspect Scope"
docker volume ls --filter "driver=$E2E_DRIVER" --format '{{.Driver}} {{.Name}}' | grep -qxF "$E2E_DRIVER $v" \
  || fail "ls lacks $v"

run --rm -v "$v:/data" busybox:e2e sh -c 'echo written-by-one > /data/f'
expect_eq "$(run --rm -v "$v:/data" busybox:e2e cat /data/f)" "written-by-one" "second container reads"
expect_eq "$(mounts_of "$v")" "0" "uses after the containers"

# While a container holds it, rm is refused and nothing is deleted.
run -d --name "$E2E_TAG-hold" -v "$v:/data" busybox:e2e sleep 300 >/dev/null
expect_eq "$(mounts_of "$v")" "1" "uses while a container runs"
expect_eq "$(docker volume inspect -f '{{index .Status "Mounts"}}' "$v")" "1" "inspect Status.Mounts while running"
expect_eq "$(docker inspect -f '{{range .Mounts}}{{.Name}} {{.Driver}}{{end}}' "$E2E_TAG-hold")" \
  "$v $E2E_DRIVER" "the container's Mounts"
expect_mountpoint "$v"
if docker volume rm "$v" 2>"$E2E_TMP/rm.err"; then fail "rm of a volume in use succeeded"; fi
grep -q "in use" "$E2E_TMP/rm.err" || fail "rm of a volume in use: $(cat "$E2E_TMP/rm.err")"
expect_eq "$(docker exec "$E2E_TAG-hold" cat /data/f)" "written-by-one" "data intact after the refused rm"
expect_eq "$(mounts_of "$v")" "1" "uses after the refused rm"
docker rm -f "$E2E_TAG-hold" >/dev/null
expect_eq "$(mounts_of "$v")" "0" "uses after the container is gone"

dir=$(volume_dir "$v")
[ -d "$dir" ] || fail "no volume directory $dir"
docker volume rm "$v" >/dev/null
docker volume ls -q --filter "driver=$E2E_DRIVER" | grep -qxF "$v" && fail "$v still listed after rm"
[ -e "$dir" ] && fail "$dir left after rm"

# size=16M: a 32 MiB write fails with ENOSPC; the loop device is gone after rm.
s=actorvol-e2e-size-$$
make_volume "$s" -o size=16M
out=$(run --rm -v "$s:/data" busybox:e2e sh -c \
  'dd if=/dev/zero of=/data/big bs=1M count=32 2>&1; echo "rc=$?"') || fail "size= container: $out"
grep -q "No space left on device" <<<"$out" || fail "a 32 MiB write into size=16M: $out"
expect_eq "$(mounts_of "$s")" "0" "uses of the size= volume"
docker volume rm "$s" >/dev/null
losetup -l -n -O BACK-FILE | grep -q "volumes/$s/" && fail "loop device of $s left attached"
log "ok"

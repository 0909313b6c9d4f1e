#!/usr/bin/env bash
# sshfs volumes through a real dockerd, in the legacy and the managed form (the managed
# plugin carries sshfs and gets /dev/fuse, and reads the secrets from ROOT/secrets under its
# propagated mount, a host directory Docker binds into it). A real sshd on 127.0.0.1 with keys made here; the key is stored
# with `actorvol secret set` and the volume names it: `docker volume inspect` shows the
# name, never the key. One container writes, another (as a non-root user: allow_other)
# reads, the server sees the data and the volume's remote files come back; after the
# containers no FUSE mount and no sshfs is left; rm removes the volume and frees the secret.
source "$(dirname "$0")/lib.sh"
e2e_require
[ -x /usr/sbin/sshd ] && command -v sshfs >/dev/null && command -v ssh-keygen >/dev/null \
  || skip "needs sshfs and openssh-server (apt-get install -y sshfs openssh-server)"
[ -c /dev/fuse ] || skip "needs /dev/fuse"
[ -n "$E2E_BINARY" ] && [ -x "$E2E_BINARY" ] || fail "no actorvol binary given (for actorvol secret)"

# The server.
d=$E2E_TMP/sshd
mkdir -p "$d/export"
chmod 755 "$E2E_TMP" "$d"
chmod 777 "$d/export"
for k in hostkey client; do ssh-keygen -q -t ed25519 -N '' -C e2e -f "$d/$k"; done
cp "$d/client.pub" "$d/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$d/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $d/hostkey
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
CONF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$d/sshd_config" >>"$d/sshd.log" 2>&1 &
E2E_PIDS+=($!)
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || fail "sshd did not start: $(cat "$d/sshd.log")"

start_plugin
# The secret: in the legacy plugin's root, or for the managed plugin in ROOT/secrets under
# its propagated mount, which is a host directory (DockerRootDir/plugins/ID/propagated-mount).
secret=e2e-$$
if [ "$E2E_FORM" = legacy ]; then
  secret_args=(--root "$E2E_TMP/root")
else
  secret_args=(--root "$(docker info -f '{{.DockerRootDir}}')/plugins/$E2E_PLUGIN_ID/propagated-mount")
fi
"$E2E_BINARY" secret set "$secret" "${secret_args[@]}" <"$d/client" || fail "actorvol secret set"
at_exit "'$E2E_BINARY' secret rm --force '$secret' ${secret_args[*]}"
"$E2E_BINARY" secret ls "${secret_args[@]}" | grep -qxF "$secret" || fail "secret ls lacks $secret"

v=actorvol-e2e-sshfs-$$
remote="root@127.0.0.1:$d/export"
make_volume "$v" -o type=sshfs -o host=127.0.0.1 -o port="$port" -o user=root \
  -o path="$d/export" -o secret="$secret" -o "known_host=$(cut -d' ' -f1,2 "$d/hostkey.pub")"
key_line=$(sed -n 2p "$d/client")
docker volume inspect "$v" >"$E2E_TMP/inspect.json"
grep -qF "$key_line" "$E2E_TMP/inspect.json" && fail "docker volume inspect shows the key"
grep -q '"secret": "'"$secret"'"' "$E2E_TMP/inspect.json" || fail "inspect lacks secret=$secret"
expect_eq "$(docker volume inspect -f '{{index .Status "Backend"}}' "$v")" "sshfs" "Status.Backend"

run --rm -v "$v:/data" busybox:e2e sh -c 'echo written-by-one > /data/f'
expect_eq "$(cat "$d/export/f" 2>/dev/null)" "written-by-one" "the server has the container's file"
echo from-the-server >"$d/export/g"
chmod 644 "$d/export/f" "$d/export/g"
expect_eq "$(run --rm --user 1000:1000 -v "$v:/data" busybox:e2e cat /data/f /data/g)" \
  "written-by-one
from-the-server" "a second container (uid 1000) reads"
expect_eq "$(mounts_of "$v")" "0" "uses after the containers"

# Nothing left once the last container is gone: no FUSE mount of the remote, no sshfs.
gone() {
  ! grep -qF " $remote " /proc/self/mountinfo && ! pgrep -f "sshfs $remote" >/dev/null
}
for _ in $(seq 1 50); do gone && break; sleep 0.1; done
gone || fail "a FUSE mount or an sshfs is left: $(grep -F "$remote" /proc/self/mountinfo; pgrep -af sshfs)"

# While a container holds it the remote is mounted once; rm is refused and so is secret rm.
run -d --name "$E2E_TAG-hold" -v "$v:/data" busybox:e2e sleep 300 >/dev/null
expect_eq "$(docker exec "$E2E_TAG-hold" cat /data/g)" "from-the-server" "a running container reads"
pgrep -f "sshfs $remote" >/dev/null || fail "no sshfs while the volume is in use"
"$E2E_BINARY" secret rm "$secret" "${secret_args[@]}" 2>"$E2E_TMP/rm.err" \
  && fail "secret rm of a secret in use succeeded"
grep -qF "used by volume(s) $v" "$E2E_TMP/rm.err" || fail "secret rm: $(cat "$E2E_TMP/rm.err")"
docker rm -f "$E2E_TAG-hold" >/dev/null
for _ in $(seq 1 50); do gone && break; sleep 0.1; done
gone || fail "a FUSE mount or an sshfs is left after the container"

docker volume rm "$v" >/dev/null || fail "volume rm"
"$E2E_BINARY" secret rm "$secret" "${secret_args[@]}" || fail "secret rm after the volume is gone"
expect_eq "$(cat "$d/export/f")" "written-by-one" "the server keeps its data after rm"
log "ok"

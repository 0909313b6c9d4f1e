#!/usr/bin/env bash
# Docker uses actorvol over mutual TLS on TCP, found through a spec file
# (/etc/docker/plugins/NAME.json with Addr https://127.0.0.1:PORT and a TLSConfig): volume
# create, a container that writes and one that reads, counts, rm. The certificates are made
# by tests/service/certs.sh; dockerd presents the client certificate the CA signed.
source "$(dirname "$0")/lib.sh"
e2e_require
[ "$E2E_FORM" = legacy ] || fail "the TLS form is a legacy plugin (a spec file), not managed"
command -v openssl >/dev/null || skip "needs openssl"
# dockerd keeps a plugin it found through a spec file (its address and its TLS settings,
# certificates loaded) for as long as it runs: the address and the certificates stay the same
# from one run of this test to the next (a fixed port; certificates made once per machine).
port=${ACTORVOL_E2E_TLS_PORT:-47613}
c=${ACTORVOL_E2E_TLS_DIR:-/var/lib/actorvol-ci/e2e-tls}
if ! openssl x509 -checkend 3600 -noout -in "$c/client.pem" >/dev/null 2>&1; then
  rm -rf "$c"
  bash "$E2E_DIR/../service/certs.sh" "$c"
fi

# One fixed name, like the legacy tests (dockerd remembers every plugin it used).
E2E_DRIVER=actorvol-e2e-tls
E2E_DRIVERS+=("$E2E_DRIVER")
E2E_LOG=$E2E_TMP/$E2E_DRIVER.log
spec=/etc/docker/plugins/$E2E_DRIVER.json
at_exit rm -f "$spec"
"$E2E_BINARY" --root "$E2E_TMP/root" --socket "$E2E_TMP/unused.sock" \
  --listen "tcp://127.0.0.1:$port" --tls-cert "$c/server.pem" --tls-key "$c/server.key" \
  --tls-client-ca "$c/ca.pem" >>"$E2E_LOG" 2>&1 &
E2E_PIDS+=($!)
disown $!
for _ in $(seq 1 100); do
  grep -q "event=start socket=127.0.0.1:$port " "$E2E_LOG" && break
  sleep 0.1
done
grep -q "event=start socket=127.0.0.1:$port " "$E2E_LOG" \
  || fail "actorvol did not start on port $port (ACTORVOL_E2E_TLS_PORT picks another): $(tail -5 "$E2E_LOG")"
grep -q 'tls=mutual' "$E2E_LOG" || fail "not mutual TLS: $(tail -2 "$E2E_LOG")"
mkdir -p /etc/docker/plugins
cat >"$spec" <<JSON
{"Name": "$E2E_DRIVER", "Addr": "https://127.0.0.1:$port",
 "TLSConfig": {"InsecureSkipVerify": false, "CAFile": "$c/ca.pem",
               "CertFile": "$c/client.pem", "KeyFile": "$c/client.key"}}
JSON

v=actorvol-e2e-tls-$$
make_volume "$v"
expect_eq "$(docker volume inspect -f '{{.Driver}}' "$v")" "$E2E_DRIVER" "inspect Driver"
run --rm -v "$v:/data" busybox:e2e sh -c 'echo over-tls > /data/f'
expect_eq "$(run --rm -v "$v:/data" busybox:e2e cat /data/f)" "over-tls" "second container reads"
expect_eq "$(docker volume inspect -f '{{index .Status "Mounts"}}' "$v")" "0" "uses after both"
[ "$(calls_of VolumeDriver.Mount "$v")" -ge 2 ] || fail "the Mounts did not reach actorvol over TLS"
docker volume rm "$v" >/dev/null || fail "volume rm"
[ -e "$E2E_TMP/root/volumes/$v" ] && fail "data left after rm"
[ -e "$E2E_TMP/unused.sock" ] && fail "the Unix socket was bound too"
# dockerd's client certificate was required: without one the handshake is refused.
if curl -s --max-time 5 --cacert "$c/ca.pem" -X POST -d '{}' \
    "https://127.0.0.1:$port/Plugin.Activate" >/dev/null; then
  fail "a client without a certificate was served"
fi
log "ok"

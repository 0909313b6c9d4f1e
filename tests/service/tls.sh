#!/usr/bin/env bash
# tls.sh BINARY: --listen tcp:// with mutual TLS against the real binary, spoken to by curl:
# a client with a certificate of the CA is served; a client without one, with one of another
# CA, or on TLS 1.1 is refused at the handshake, and the server goes on serving. Plain TCP is
# refused unless --insecure-tcp-loopback, which works on loopback only; TLS off loopback
# needs a client CA.
set -euo pipefail
binary=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
fail() { echo "tls.sh: FAIL: $*" >&2; [ -f "${log:-/dev/null}" ] && tail -20 "$log" >&2; exit 1; }
for tool in openssl curl; do
  command -v $tool >/dev/null || {
    [ "${CI:-}" = true ] && fail "$tool is missing; CI runs every test"
    echo "tls.sh: skipped: needs $tool"; exit 77; }
done
tmp=$(mktemp -d)
pid=""
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
bash "$here/certs.sh" "$tmp/certs"
c=$tmp/certs

start() {  # start LOG ARGS...: starts the binary, waits for its start line, sets $port
  log=$1; shift
  "$binary" --root "$tmp/root" --socket "$tmp/unused.sock" "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    grep -q 'event=start socket=' "$log" && break
    kill -0 "$pid" 2>/dev/null || fail "it exited at start: $(cat "$log")"
    sleep 0.05
  done
  port=$(grep -o 'event=start socket=127\.0\.0\.1:[0-9]*' "$log" | sed 's/.*://')
  [ -n "$port" ] || fail "no port in the start line"
}
stop() { kill -TERM "$pid"; wait "$pid" || fail "exit status $? at stop"; pid=""; }
call() {  # call ENDPOINT BODY [CURL ARGS...]
  local ep=$1 body=$2; shift 2
  curl -sS --max-time 10 -X POST "$@" -d "$body" "https://127.0.0.1:$port/$ep"
}
mtls=(--cacert "$c/ca.pem" --cert "$c/client.pem" --key "$c/client.key")

# Mutual TLS on loopback.
start "$tmp/mtls.log" --listen tcp://127.0.0.1:0 --tls-cert "$c/server.pem" \
  --tls-key "$c/server.key" --tls-client-ca "$c/ca.pem"
grep -q 'tls=mutual' "$log" || fail "the start line does not say tls=mutual"
[ "$(call Plugin.Activate '{}' "${mtls[@]}")" = '{"Implements":["VolumeDriver"]}' ] || fail "Activate"
[ "$(call VolumeDriver.Create '{"Name":"t1"}' "${mtls[@]}")" = '{"Err":""}' ] || fail "Create"
call VolumeDriver.Get '{"Name":"t1"}' "${mtls[@]}" | grep -q '"Name":"t1"' || fail "Get"
if call Plugin.Activate '{}' --cacert "$c/ca.pem" >/dev/null 2>&1; then
  fail "a client without a certificate was served"
fi
if call Plugin.Activate '{}' --cacert "$c/ca.pem" --cert "$c/rogue.pem" --key "$c/rogue.key" \
    >/dev/null 2>&1; then
  fail "a client with another CA's certificate was served"
fi
if call Plugin.Activate '{}' "${mtls[@]}" --tlsv1.1 --tls-max 1.1 >/dev/null 2>&1; then
  fail "TLS 1.1 was accepted"
fi
if curl -s --max-time 5 -X POST -d '{}' "http://127.0.0.1:$port/Plugin.Activate" | grep -q Implements; then
  fail "plain HTTP was served on the TLS port"
fi
grep -q 'event=tls-handshake' "$log" || fail "refused handshakes are not logged"
# A client that connects and never starts its handshake is closed after 10 s (and not kept
# open by anything else: the connection's deadline is what closes it).
exec 3<>"/dev/tcp/127.0.0.1/$port"
rc=0; timeout 20 cat <&3 >/dev/null || rc=$?
exec 3<&-
[ "$rc" = 0 ] || fail "a connection that never started its handshake was still open after 20 s"
# Still serving after the refusals.
[ "$(call VolumeDriver.Remove '{"Name":"t1"}' "${mtls[@]}")" = '{"Err":""}' ] || fail "Remove"
stop
[ ! -e "$tmp/unused.sock" ] || fail "the Unix socket was bound although --listen tcp:// was given"

# Plain TCP: refused without --insecure-tcp-loopback, and off loopback even with it.
refused() {  # refused TEXT ARGS...: the start fails with usage status 2 and TEXT
  local text=$1; shift
  local out
  out=$("$binary" --root "$tmp/root" "$@" 2>&1) && fail "started with $*"
  grep -qF -- "$text" <<<"$out" || fail "for $*: expected '$text' in: $out"
}
refused "without TLS" --listen tcp://127.0.0.1:0
refused "loopback address only" --listen tcp://0.0.0.0:0 --insecure-tcp-loopback
refused "needs --tls-client-ca" --listen tcp://0.0.0.0:0 --tls-cert "$c/server.pem" \
  --tls-key "$c/server.key"
refused "go together" --listen tcp://127.0.0.1:0 --tls-cert "$c/server.pem"
refused "only with --listen" --tls-cert "$c/server.pem" --tls-key "$c/server.key"
refused "must be tcp://HOST:PORT" --listen http://127.0.0.1:1
refused "takes no value" --listen tcp://127.0.0.1:0 --insecure-tcp-loopback=1
ACTORVOL_INSECURE_TCP_LOOPBACK=0 refused "without TLS" --listen tcp://127.0.0.1:0
out=$("$binary" --root "$tmp/root" --listen tcp://::1:9 --insecure-tcp-loopback 2>&1) \
  && fail "started on an IPv6 address without brackets"
grep -q "goes in brackets" <<<"$out" || fail "IPv6 without brackets: $out"
out=$("$binary" --root "$tmp/root" --listen tcp://127.0.0.1:0 --tls-cert "$tmp/none.pem" \
  --tls-key "$c/server.key" 2>&1) && fail "started with a missing certificate"
grep -q -- "--tls-cert $tmp/none.pem" <<<"$out" || fail "a missing certificate: $out"

# --insecure-tcp-loopback: plain HTTP on loopback.
start "$tmp/plain.log" --listen tcp://127.0.0.1:0 --insecure-tcp-loopback
[ "$(curl -s --max-time 10 -X POST -d '{}' "http://127.0.0.1:$port/Plugin.Activate")" \
  = '{"Implements":["VolumeDriver"]}' ] || fail "plain Activate on loopback"
stop
echo "tls.sh: ok"

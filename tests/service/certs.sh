#!/usr/bin/env bash
# certs.sh DIR: makes the certificates the TLS tests use, with openssl: a CA (ca.pem), a
# server certificate for 127.0.0.1 (server.pem, server.key), a client certificate the CA
# signed (client.pem, client.key), and a client certificate of another CA (rogue.pem,
# rogue.key). Sourced or run.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>&1 || { echo "certs.sh: failed: $*" >&2; exit 1; }; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=actorvol-test-ca \
  -keyout ca.key -out ca.pem
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue-ca \
  -keyout rogue-ca.key -out rogue-ca.pem
issue() {  # issue NAME CA EXT
  q openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
  printf '%s\n' "$3" >"$1.ext"
  q openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem"
}
issue server ca "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
issue client ca "extendedKeyUsage=clientAuth"
issue rogue rogue-ca "extendedKeyUsage=clientAuth"
chmod 600 ./*.key

#!/usr/bin/env bash
# units.sh BUILD_DIR: installs the build into a scratch DESTDIR with cmake --install, checks
# that every path the units name is installed there (the binary, the environment file, the
# README), and has `systemd-analyze verify` check both units. verify looks for ExecStart= on
# this host, so it reads a copy whose ExecStart= names the installed binary inside DESTDIR.
set -euo pipefail
build=$(realpath "$1")
fail() { echo "units.sh: FAIL: $*" >&2; exit 1; }
if ! command -v systemd-analyze >/dev/null; then
  [ "${CI:-}" = true ] && fail "systemd-analyze is missing (package systemd); CI runs every test"
  echo "units.sh: skipped: needs systemd-analyze (apt-get install systemd)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR=$tmp/root cmake --install "$build" >"$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log" >&2; fail "cmake --install"; }
service=$(find "$tmp/root" -path '*/systemd/system/actorvol.service')
socket=$(find "$tmp/root" -path '*/systemd/system/actorvol.socket')
[ -n "$service" ] && [ -n "$socket" ] || fail "the units are not installed: $(cd "$tmp/root" && find .)"

exec_start=$(sed -n 's/^ExecStart=//p' "$service")
env_file=$(sed -n 's/^EnvironmentFile=-//p' "$service")
doc=$(sed -n 's/^Documentation=file://p' "$service")
[ -x "$tmp/root$exec_start" ] || fail "ExecStart=$exec_start is not installed"
[ -f "$tmp/root$env_file" ] || fail "EnvironmentFile=$env_file is not installed"
[ -f "$tmp/root$doc" ] || fail "Documentation=$doc is not installed"
"$tmp/root$exec_start" --version | grep -q '^actorvol ' || fail "the installed binary does not run"
# Every variable the environment file mentions is one the binary reads.
for v in $(grep -o 'ACTORVOL_[A-Z_]*' "$tmp/root$env_file" | sort -u); do
  "$tmp/root$exec_start" --help | grep -q "$v" || fail "$env_file names $v, which --help does not"
done
grep -qx 'ListenStream=/run/docker/plugins/actorvol.sock' "$socket" || fail "ListenStream="
grep -qx 'SocketMode=0660' "$socket" || fail "SocketMode="
grep -qx 'SocketGroup=docker' "$socket" || fail "SocketGroup="
grep -qx 'Type=notify' "$service" || fail "Type="

mkdir -p "$tmp/verify"
cp "$socket" "$tmp/verify/"
sed "s|^ExecStart=$exec_start|ExecStart=$tmp/root$exec_start|" "$service" >"$tmp/verify/actorvol.service"
if ! (cd "$tmp/verify" && systemd-analyze verify actorvol.service actorvol.socket) \
    >"$tmp/verify.log" 2>&1; then
  cat "$tmp/verify.log" >&2
  fail "systemd-analyze verify"
fi
# verify prints warnings without failing; a unit that names something unknown is still wrong.
if grep -E 'actorvol\.(service|socket)' "$tmp/verify.log" >&2; then
  fail "systemd-analyze verify warned about the units"
fi
echo "units.sh: ok"

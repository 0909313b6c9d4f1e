#!/usr/bin/env bash
# activated.sh UNIT BINARY --socket PATH [ARGS...]: starts BINARY the way actorvol.socket and
# actorvol.service do: systemd-socket-activate binds PATH and passes it on the first
# connection (as systemd does), and sandboxed.sh gives the process only the unit's rights.
# The e2e test e2e.service.basic runs the whole Docker lifecycle through it.
set -euo pipefail
unit=$1 binary=$2
shift 2
socket=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --socket) socket=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$socket" ] || { echo "activated.sh: --socket PATH is required" >&2; exit 2; }
mkdir -p "$(dirname "$socket")"
# Each exec keeps the PID, so LISTEN_PID still names actorvol when it runs.
exec systemd-socket-activate -l "$socket" \
  /bin/bash "$(dirname "$(realpath "$0")")/sandboxed.sh" "$unit" "$binary" "${args[@]}"

#!/usr/bin/env bash
# sandboxed.sh UNIT BINARY [ARGS...]: runs BINARY the way UNIT (actorvol.service) would have
# systemd run it, as far as the process's own rights go: only the unit's
# CapabilityBoundingSet (as root's permitted and effective set), and no new privileges when
# the unit says NoNewPrivileges=yes. Tests point ACTORVOL_TEST_BINARY (and the e2e tests'
# binary) at a wrapper of this, so the mount tests prove the unit's set suffices.
set -euo pipefail
unit=$1 binary=$2
shift 2
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$caps" ] || { echo "sandboxed.sh: no CapabilityBoundingSet= in $unit" >&2; exit 2; }
bounding=-all
for c in $caps; do
  c=${c#CAP_}
  bounding+=",+${c,,}"
done
nnp=()
grep -qx 'NoNewPrivileges=yes' "$unit" && nnp=(--no-new-privs)
exec setpriv --bounding-set="$bounding" --inh-caps=-all "${nnp[@]}" -- "$binary" "$@"

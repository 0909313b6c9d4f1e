#!/usr/bin/env bash
# 20 containers started and stopped concurrently over 5 volumes, 3 rounds: every container
# succeeds, and every volume ends with zero uses and can be removed.
source "$(dirname "$0")/lib.sh"
e2e_require
start_plugin
vols=()
for i in 1 2 3 4 5; do vols+=("actorvol-e2e-conc-$$-$i"); make_volume "actorvol-e2e-conc-$$-$i"; done
for round in 1 2 3; do
  pids=()
  for c in $(seq 1 20); do
    v=${vols[$(( c % 5 ))]}
    run --rm -v "$v:/data" busybox:e2e sh -c "echo r$round-c$c >> /data/log; sleep 0.3" \
      >"$E2E_TMP/c$c.out" 2>&1 &
    pids+=($!)
  done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=$(( failed + 1 )); done
  [ $failed = 0 ] || fail "$failed containers failed in round $round: $(cat "$E2E_TMP"/c*.out)"
  for v in "${vols[@]}"; do expect_eq "$(mounts_of "$v")" "0" "uses of $v after round $round"; done
done
lines=0
for v in "${vols[@]}"; do
  n=$(run --rm -v "$v:/data" busybox:e2e wc -l /data/log | awk '{print $1}')
  expect_eq "$n" "12" "lines in $v (4 containers x 3 rounds)"
  lines=$(( lines + n ))
done
expect_eq "$lines" "60" "every container wrote its line"
for v in "${vols[@]}"; do docker volume rm "$v" >/dev/null || fail "rm $v"; done
plugin_log | grep -E "endpoint=/VolumeDriver.(Mount|Unmount) " | grep -v "status=200" \
  && fail "a Mount or Unmount failed"
log "ok"

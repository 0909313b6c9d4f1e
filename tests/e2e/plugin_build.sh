#!/usr/bin/env bash
# The e2e.managed fixture: builds the managed plugin $ACTORVOL_E2E_PLUGIN (default
# actorvol-e2e:latest) with plugin/build.sh and enables it. By default from the Dockerfile
# (a full compile in the image); ACTORVOL_E2E_FROM_BINARY=1 puts BINARY into the runtime
# stage instead (fast, for local runs). `bash plugin_build.sh managed BINARY [remove]`.
source "$(dirname "$0")/lib.sh"
e2e_require_base() {
  [ "$(id -u)" = 0 ] || skip "needs root"
  docker info >/dev/null 2>&1 || skip "no Docker daemon answers (bash .ci/docker-env.sh start)"
}
e2e_require_base
if [ "${3:-}" = remove ]; then
  docker plugin disable -f "$E2E_PLUGIN" >/dev/null 2>&1 || true
  docker plugin rm -f "$E2E_PLUGIN" >/dev/null 2>&1 || true
  log "removed $E2E_PLUGIN"
  exit 0
fi
docker image inspect debian:bookworm >/dev/null 2>&1 \
  || skip "no debian:bookworm image (bash .ci/docker-env.sh images)"
args=(--name "$E2E_PLUGIN" --enable)
if [ "${ACTORVOL_E2E_FROM_BINARY:-0}" = 1 ]; then
  [ -x "$E2E_BINARY" ] || fail "no binary $E2E_BINARY"
  args+=(--binary "$E2E_BINARY")
fi
bash "$E2E_DIR/../../plugin/build.sh" "${args[@]}" || fail "plugin/build.sh failed"
E2E_FORM=managed
E2E_TMP=$(mktemp -d /tmp/actorvol-e2e.XXXXXX)
E2E_LOG_FROM=$(( $(wc -l <"$E2E_DOCKERD_LOG" 2>/dev/null || echo 0) + 1 ))
enable_managed
expect_eq "$(plugin_call /Plugin.Activate '{}')" '{"Implements":["VolumeDriver"]}' "Activate"
log "ok: $E2E_PLUGIN enabled, socket $E2E_SOCKET"

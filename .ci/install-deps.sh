#!/usr/bin/env bash
# Installs actorvol's dependencies from Debian 12's packages.
#   --run   what building and running the plugin needs (the default)
#   --test  that, plus what the tests need (Docker engine, busybox, debootstrap, mkfs,
#           systemd's tools, lintian and dpkg-dev for the package, openssh-server for the
#           sshfs tests: they start their own sshd; the ssh service the package would start
#           on port 22 is stopped and disabled when this script installed it)
set -euo pipefail
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

pkgs=(g++ cmake make libcaf-dev libboost1.81-dev nlohmann-json3-dev libsqlite3-dev libsystemd-dev libssl-dev pkg-config
      util-linux
      e2fsprogs sshfs openssh-client)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(googletest libgtest-dev curl docker.io busybox-static debootstrap xfsprogs clang systemd
         python3-matplotlib lintian dpkg-dev podman openssh-server)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0

log=$(mktemp)
echo "installing: ${missing[*]}"
if ! { $sudo apt-get update -q && \
       DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
         "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed" >&2
  exit 1
fi
rm -f "$log"
if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null; then
  $sudo systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
fi

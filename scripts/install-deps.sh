#!/usr/bin/env bash
# Installs every Debian 12 package ckptfs needs to build, test, run the demo
# and run the benchmarks. Works as root (no sudo needed) or as a user with sudo.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; run as root" >&2; exit 1; }
  SUDO="sudo"
fi
PKGS=(
  build-essential cmake ninja-build pkg-config git
  libfuse3-dev fuse3 libzstd-dev zstd libxxhash-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libgtest-dev libgmock-dev libcli11-dev libspdlog-dev libsystemd-dev
  libtorch-dev python3-torch python3-numpy
  rsync tar coreutils findutils diffutils procps util-linux e2fsprogs kmod
  systemd
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# FUSE needs the device node; containers sometimes lack it.
if [ ! -e /dev/fuse ]; then
  $SUDO modprobe fuse 2>/dev/null || true
fi

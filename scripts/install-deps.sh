#!/usr/bin/env bash
# Installs the system packages Tributary needs, if any are missing (Debian/Ubuntu).
# Non-interactive; safe to run repeatedly (does nothing when everything is there).
set -euo pipefail
packages=(libzmq3-dev libopenblas-dev zlib1g-dev libcurl4-openssl-dev pkg-config protobuf-compiler protobuf-c-compiler libprotobuf-c-dev iproute2 python3 python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

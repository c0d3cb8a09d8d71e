#!/usr/bin/env bash
# Installs what certgate needs to build and test on Debian 12, from Debian's packages only.
set -euo pipefail
packages=(build-essential cmake pkg-config ca-certificates openssl curl python3
  libboost1.81-dev libboost-program-options1.81-dev libssl-dev libyaml-cpp-dev
  libspdlog-dev libfmt-dev libgtest-dev python3-prometheus-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

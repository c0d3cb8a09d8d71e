#!/usr/bin/env bash
# Installs what certgate needs to build and test on Debian 12, from Debian's packages only.
set -euo pipefail
packages=(build-essential cmake pkg-config ca-certificates openssl curl python3
  libboost1.81-dev libboost-program-options1.81-dev libssl-dev libyaml-cpp-dev
  libspdlog-dev libfmt-dev libgoogle-perftools-dev libgtest-dev python3-prometheus-client)
"$(dirname "$0")/install-packages.sh" "${packages[@]}"

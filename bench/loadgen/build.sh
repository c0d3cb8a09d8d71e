#!/usr/bin/env bash
# build.sh [OUTPUT]: compiles the load generator (default output: bench/.build/cg-loadgen).
# Needs g++ 12, libboost1.81-dev and libssl-dev. Not part of certgate's CMake build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../.build/cg-loadgen}
mkdir -p "$(dirname "$out")"
g++ -std=c++20 -O2 -Wall -Wextra -o "$out" "$here/cg-loadgen.cpp" -lssl -lcrypto
echo "$out"

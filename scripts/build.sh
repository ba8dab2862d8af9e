#!/usr/bin/env bash
# Configures and builds flakebisect in build/ (warnings are errors). Usage: scripts/build.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${FLAKEBISECT_BUILD_DIR:-$root/build}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFLAKEBISECT_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (unit, integration, qemu).
# Usage: scripts/test.sh [extra ctest args]
#   FLAKEBISECT_TEST_LABELS=kernel scripts/test.sh  also runs the opt-in real-kernel tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${FLAKEBISECT_TEST_LABELS:-}" == *kernel* ]]; then
  "$root/scripts/install-deps.sh" --kernel
else
  "$root/scripts/install-deps.sh"
fi
"$root/scripts/build.sh"
build_dir=${FLAKEBISECT_BUILD_DIR:-$root/build}
exclude=()
if [ -z "${FLAKEBISECT_TEST_LABELS:-}" ]; then
  exclude=(-LE kernel)
fi
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 900 "${exclude[@]}" "$@"

#!/usr/bin/env bash
# The first quick-start command: installs what is missing, builds, and runs `flakebisect demo`: a
# real flaky bisection of a race planted in a generated 300-commit history, every candidate built
# and run in QEMU guests (Debian's kernel) on fresh 1k-block ext4 filesystems. A few minutes on 2
# cores. Extra arguments go to `flakebisect demo` (e.g. --dir DIR, --commits N).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build_dir=${FLAKEBISECT_BUILD_DIR:-$root/build}
exec "$build_dir/bin/flakebisect" demo "$@"

#!/usr/bin/env bash
# The first quick-start command: installs what is missing, builds, and runs the demo.
# Until `flakebisect demo` exists this is the decision benchmark's quick table (simulated bisections
# of flaky bugs, ours beside git bisect, fixed-N and syzkaller's rule).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build_dir=${FLAKEBISECT_BUILD_DIR:-$root/build}
exec "$build_dir/bench/flakebisect-bench" --quick "$@"

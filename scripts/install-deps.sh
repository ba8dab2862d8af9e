#!/usr/bin/env bash
# Installs every Debian package flakebisect needs to build, test and run, skipping those present.
# Usage: scripts/install-deps.sh [--kernel]   (as root, or with sudo available)
#   --kernel  also what building real kernels needs: Debian's kernel source (linux-source-6.1, for
#             the opt-in `kernel` tests and the acceptance test) and kbuild's tools
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git ccache
  # libraries
  libgit2-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libtomlplusplus-dev libgtest-dev libgmock-dev googletest liblzma-dev zlib1g-dev libzstd-dev
  # guest side: QEMU, a kernel to boot, the scratch filesystem, the initramfs
  qemu-system-x86 qemu-utils busybox-static linux-image-amd64 e2fsprogs cpio gzip kmod
  # the HTML report's browser test: headless Chromium, a font, zlib to decode screenshots
  chromium fonts-dejavu-core zlib1g-dev
  # report tests: validate JSON reports against docs/report-schema.json; a kernel tree's
  # scripts/get_maintainer.pl runs under perl
  python3 python3-jsonschema perl
)
if [ "${1:-}" = "--kernel" ]; then
  # dwarves: pahole, which a config with CONFIG_DEBUG_INFO_BTF (Debian's own) needs at the link
  packages+=(linux-source-6.1 bc bison flex libelf-dev libssl-dev xz-utils dwarves)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >&2

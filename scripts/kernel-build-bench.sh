#!/usr/bin/env bash
# kernel-build-bench.sh: how long flakebisect's kernel builds take on this machine.
#
# Builds `make tinyconfig` + configs/kernel/qemu-guest.config (what KernelBuilder does with
# base = "tinyconfig") with make O=<source>/.flakebisect-obj, where KernelBuilder puts it, and
# CC="ccache gcc", and prints the wall time of:
#   cold          first build, empty O= directory, empty ccache
#   no change     the same build again
#   one file      after a one-line change to fs/ext4/inode.c
#   clean, warm   empty O= directory again, ccache warm (a bisection's first build after a restart)
#   other tree    the same sources at another path (a hard-linked copy), its own O= inside it,
#                 ccache warm: the first build of another bisection, in its own worktree
# With -x also:
#   other, O= out the same in a third copy with O= outside the tree, as until 2026-11-27: kbuild
#                 then names the sources by their absolute path, which differs per worktree
#
# usage: scripts/kernel-build-bench.sh [-j JOBS] [-w WORKDIR] [-x] [KERNEL_SOURCE_DIR]
#
# Without KERNEL_SOURCE_DIR it unpacks Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz)
# into WORKDIR once. A given source tree is modified only for the "one file" row and restored, and
# gets the O= directory .flakebisect-obj, which is removed at the end.
# ccache uses a private directory under WORKDIR, so your own cache is neither used nor disturbed.
# Takes 10+ minutes on two cores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fragment=$here/configs/kernel/qemu-guest.config
tarball=/usr/src/linux-source-6.1.tar.xz
jobs=$(($(nproc) + 1))
workdir=${TMPDIR:-/tmp}/flakebisect-kernel-bench

usage() {
  echo "usage: $0 [-j JOBS] [-w WORKDIR] [-x] [KERNEL_SOURCE_DIR]" >&2
  exit 2
}
outside=no
while getopts "j:w:xh" opt; do
  case $opt in
  j) jobs=$OPTARG ;;
  w) workdir=$OPTARG ;;
  x) outside=yes ;;
  *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -le 1 ]] || usage
[[ $jobs =~ ^[1-9][0-9]*$ ]] || usage

for tool in make gcc ccache flex bison bc; do
  if ! command -v "$tool" >/dev/null; then
    echo "$0: $tool not found; install build-essential ccache flex bison bc libelf-dev libssl-dev" >&2
    exit 2
  fi
done

mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
if [[ $# -eq 1 ]]; then
  src=$(cd "$1" && pwd)
else
  src=$workdir/linux-source-6.1
  if [[ ! -f $src/Makefile ]]; then
    if [[ ! -f $tarball ]]; then
      echo "$0: no kernel source given and $tarball is missing." >&2
      echo "Install it with: sudo apt-get install linux-source-6.1" >&2
      echo "or pass a kernel source directory: $0 /path/to/linux" >&2
      exit 2
    fi
    echo "unpacking $tarball into $workdir ..." >&2
    tar -xf "$tarball" -C "$workdir"
  fi
fi
[[ -f $src/Makefile && -f $src/fs/ext4/inode.c ]] || {
  echo "$0: $src does not look like a kernel source tree" >&2
  exit 2
}

obj=$src/.flakebisect-obj
log=$workdir/build.log
export CCACHE_DIR=$workdir/ccache
# What KernelBuilder sets, so that rebuilds are reproducible and hit in ccache.
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC" KBUILD_BUILD_USER=flakebisect
export KBUILD_BUILD_HOST=flakebisect KBUILD_BUILD_VERSION=1
unset KCONFIG_CONFIG KCONFIG_ALLCONFIG KBUILD_OUTPUT ARCH CROSS_COMPILE LLVM

kmake() {
  make -C "$src" O="$obj" CC="ccache gcc" "$@"
}

configure() {
  rm -rf "$obj"
  mkdir -p "$obj"
  {
    kmake tinyconfig
    "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment"
    kmake olddefconfig
  } >>"$log" 2>&1
}

now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

ccache_counter() {
  ccache --print-stats | awk -v name="$1" '$1 == name { value = $2 } END { print value + 0 }'
}

rows=()
# Times one build and adds a table row: name, seconds, ccache hits/misses.
timed_build() {
  local name=$1 start end hits misses
  ccache -z >/dev/null
  echo "== $name" >>"$log"
  start=$(now_ms)
  if ! kmake -j"$jobs" bzImage >>"$log" 2>&1; then
    echo "$0: build '$name' failed; see $log" >&2
    exit 1
  fi
  end=$(now_ms)
  [[ -f $obj/arch/x86/boot/bzImage ]] || {
    echo "$0: build '$name' made no bzImage; see $log" >&2
    exit 1
  }
  hits=$(($(ccache_counter direct_cache_hit) + $(ccache_counter preprocessed_cache_hit)))
  misses=$(ccache_counter cache_miss)
  rows+=("$(printf '%-14s %9d.%01d %8d %8d' "$name" $(((end - start) / 1000)) \
    $(((end - start) % 1000 / 100)) "$hits" "$misses")")
}

: >"$log"
rm -rf "$CCACHE_DIR"
echo "source $src, O=$obj, -j$jobs; log $log" >&2

configure
timed_build "cold"
timed_build "no change"

inode=$src/fs/ext4/inode.c
backup=$workdir/inode.c.orig
cp -p "$inode" "$backup"
trap 'cp -p "$backup" "$inode"' EXIT
# A real change (not just a new mtime), so ccache has to compile it; the counter keeps reruns new.
echo "static int __maybe_unused fb_bench_$(date +%s%N);" >>"$inode"
timed_build "one file"
cp -p "$backup" "$inode"
trap - EXIT

configure
timed_build "clean, warm"
rm -rf "$obj"

# Another bisection's worktree: the same files at another path.
other=$workdir/other-tree
rm -rf "$other"
cp -al "$src" "$other"
rm -rf "$other/.flakebisect-obj"
src=$other obj=$other/.flakebisect-obj
configure
timed_build "other tree"
if [[ $outside == yes ]]; then
  third=$workdir/third-tree
  rm -rf "$third" "$workdir/obj-outside"
  cp -al "$other" "$third"
  rm -rf "$third/.flakebisect-obj"
  src=$third obj=$workdir/obj-outside
  configure
  timed_build "other, O= out"
fi

printf '\n%-14s %11s %8s %8s\n' "build" "seconds" "hits" "misses"
printf '%s\n' "${rows[@]}"
printf '\n(%s, gcc %s, %d CPUs, make -j%d, bzImage %d KiB)\n' "$(basename "$src")" \
  "$(gcc -dumpfullversion)" "$(nproc)" "$jobs" $(($(stat -c %s "$obj/arch/x86/boot/bzImage") / 1024))
rm -rf "$other" "${third:-}" "$workdir/obj-outside"

// flakebisect-qemu-bench: what a boot and a run cost under QEMU on this machine, with the real
// run::QemuRunner, Debian's packaged kernel, real mkfs.ext4 -b 1024 scratch disks and a trivial
// reproducer (so the numbers are the harness's overhead, not the reproducer's work).
//
//   flakebisect-qemu-bench [--kernel /boot/vmlinuz-X] [--runs N] [--accel tcg|kvm|auto]
//                          [--repeat R] [--size-mb M] [--direct-boot on|off]
//                          [--xfstests DIR [--test NAME]]
//
// Prints one table: a boot with 1 run, a boot with N runs, N boots of 1 run, the per-run
// overhead inside one boot, and mkfs.ext4 -b 1024 alone. Each row is the median of R repeats.
// With --xfstests, each run is ./check NAME (default generic/418) of that built xfstests tree in
// [xfstests] mode (the host root over virtio-9p, two disks per run, at most 12 runs per boot);
// a run counts when ./check gave a verdict (pass, fail or not run), and the per-run row then
// includes the test's own time. --direct-boot on boots the kernel from its unpacked vmlinux
// through its PVH entry (qemu.direct_boot, run/kernel_image.h) instead of its bzImage.
#include <fmt/core.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/process.h"
#include "run/qemu_runner.h"

namespace fs = std::filesystem;
using namespace flakebisect;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string kernel = run::installed_kernel();
  std::string accel = "tcg";
  uint32_t runs = 8;
  int repeat = 3;
  uint32_t size_mb = 256;
  std::string xfstests;
  std::string test = "generic/418";
  bool direct_boot = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--kernel") {
      kernel = value;
    } else if (flag == "--runs") {
      runs = static_cast<uint32_t>(std::stoul(value));
    } else if (flag == "--accel") {
      accel = value;
    } else if (flag == "--repeat") {
      repeat = std::stoi(value);
    } else if (flag == "--size-mb") {
      size_mb = static_cast<uint32_t>(std::stoul(value));
    } else if (flag == "--xfstests") {
      xfstests = value;
    } else if (flag == "--test") {
      test = value;
    } else if (flag == "--direct-boot" && (value == "on" || value == "off")) {
      direct_boot = value == "on";
    } else {
      fmt::print(stderr, "flakebisect-qemu-bench: unknown option {}\n", flag);
      return 2;
    }
  }
  const uint32_t max_runs = xfstests.empty() ? 24 : run::kXfstestsRunsPerBoot;
  if (kernel.empty() || runs < 2 || runs > max_runs || repeat < 1 ||
      (!xfstests.empty() && xfstests.front() != '/')) {
    fmt::print(stderr,
               "flakebisect-qemu-bench: need a kernel, --runs in 2..{}, --repeat >= 1, and an "
               "absolute --xfstests path\n",
               max_runs);
    return 2;
  }
  char pattern[] = "/var/tmp/fb-qemu-bench.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    return 1;
  }
  const fs::path dir(pattern);
  const fs::path script = dir / "ok.sh";
  std::ofstream(script) << "#!/bin/sh\nexit 0\n";
  fs::permissions(script, fs::perms(0755));
  const fs::path exe = fs::read_symlink("/proc/self/exe").parent_path();

  base::SubprocessRunner processes;
  run::QemuRunnerOptions options;
  options.qemu.kernel = kernel;
  options.qemu.accel = accel;
  options.scratch.size_mb = size_mb;
  options.reproducer.program = script.native();
  options.reproducer.args = {};
  options.work_dir = (dir / "work").native();
  options.cache_dir = (dir / "cache").native();
  options.kernel_cache_dir = (dir / "kernels").native();
  options.qemu.direct_boot = direct_boot;
  options.log_dir = (dir / "logs").native();
  options.helper_dir = exe.native();
  if (!xfstests.empty()) {
    options.xfstests.emplace();
    options.xfstests->dir = xfstests;
    options.xfstests->tests = {test};
    options.xfstests->mkfs_options = "-b 1024";
  }
  run::QemuRunner runner(processes, options);
  const build::CommitCheckout checkout{"0000000000000000000000000000000000000000", "", "", ""};

  // Seconds for one boot of `count` runs; -1 when a run did not pass.
  const auto boot = [&](uint32_t count) {
    const auto start = Clock::now();
    uint32_t passed = 0;
    auto status = runner.run_batch(checkout, 0, count, [&](const run::RunResult& r) {
      const bool verdict = r.outcome == store::RunOutcome::kPass ||
                           (!xfstests.empty() && (r.outcome == store::RunOutcome::kFail ||
                                                  r.outcome == store::RunOutcome::kSkip));
      passed += verdict ? 1 : 0;
      if (!verdict) {
        fmt::print(stderr, "run: {}\n", r.detail.substr(0, 300));
      }
      return base::Result<bool>(true);
    });
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!status || passed != count) {
      fmt::print(stderr, "boot of {} runs: {}\n", count,
                 status ? fmt::format("{} passed", passed) : status.error().message());
      return -1.0;
    }
    return seconds;
  };
  boot(1);  // warm-up: initramfs cache, accel choice, page cache

  std::vector<double> one, many, separate, mkfs;
  for (int r = 0; r < repeat; ++r) {
    one.push_back(boot(1));
    many.push_back(boot(runs));
    double total = 0;
    for (uint32_t k = 0; k < runs; ++k) {
      total += boot(1);
    }
    separate.push_back(total);
    const std::string image = (dir / "mkfs.img").native();
    std::ofstream(image).close();
    fs::resize_file(image, uint64_t{size_mb} << 20);
    base::ProcessOptions make;
    make.argv = {"mkfs.ext4", "-q", "-F", "-b", "1024", image};
    const auto start = Clock::now();
    (void)base::run_process(make);
    mkfs.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  const double m1 = median(one), mn = median(many), ms = median(separate);
  fmt::print(
      "flakebisect-qemu-bench: kernel {}, accel {}, direct boot {}, {} MiB scratch, median of "
      "{}{}\n\n",
      kernel, runner.accel().value_or("none"), direct_boot ? "on" : "off", size_mb, repeat,
      xfstests.empty() ? std::string() : fmt::format(", xfstests {} ./check {}", xfstests, test));
  fmt::print("| what | seconds |\n|---|---|\n");
  fmt::print("| one boot, 1 run (boot + guest init + 1 run) | {:.2f} |\n", m1);
  fmt::print("| one boot, {} runs | {:.2f} |\n", runs, mn);
  fmt::print("| {} boots, 1 run each | {:.2f} |\n", runs, ms);
  fmt::print("| per-run overhead within a boot ((row 2 - row 1) / {}) | {:.2f} |\n", runs - 1,
             (mn - m1) / (runs - 1));
  fmt::print("| mkfs.ext4 -b 1024 of one {} MiB image on the host | {:.3f} |\n", size_mb,
             median(mkfs));
  fmt::print("| speed-up of {} runs in one boot over {} boots | {:.1f}x |\n", runs, runs,
             mn > 0 ? ms / mn : 0);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return 0;
}

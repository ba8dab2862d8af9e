// QemuRunner: runs the reproducer inside a QEMU guest, one fresh scratch filesystem per run and
// up to qemu.runs_per_boot runs per boot.
//
// One boot, from the host's side:
//   1. make one scratch image per run in a private per-boot directory, each with the real mkfs
//      (scratch.mkfs + path), so every run starts on a freshly made filesystem;
//   2. assemble the initramfs: a cached base archive (busybox-static, the guest init from
//      qemu/guest/init, the kernel modules the guest needs in load order) plus a per-boot archive
//      (the reproducer, its arguments, the run count and timeout, the disk names);
//      with [xfstests] there is no reproducer: each run gets a TEST_DEV and a SCRATCH_DEV image,
//      QEMU shares xfstests.root read-only and a per-boot results directory (under log_dir)
//      writable over virtio-9p, and the guest runs ./check chrooted into the root (qemu/README.md);
//   3. start QEMU (own process group, killed if flakebisect dies) with the kernel console on
//      ttyS0, read through a pipe into a size-capped log, and the results channel on ttyS1, a
//      file only the guest init writes (protocol in qemu/guest/init);
//   4. follow both: each "end" line becomes a RunResult handed to the sink at once. The console
//      between a run's "begin" and "end" markers is searched for kernel crash reports
//      (crash_report.h): a report makes the run a crash with its title whatever the reproducer
//      said. The guest mounts the run's scratch disk after "begin" and unmounts it before "end",
//      so what the kernel reports while mounting or unmounting (writeback) is the run's too. The
//      verdict never comes from the console alone, so a reproducer printing "Kernel panic" (its
//      output goes to a file in the guest, not to the console) or a kernel message cannot fake one.
//      The console a run's outcome was read from is written to a file of its own
//      (console-<boot>-run-<N>.log in log_dir, next to the boot's console-<boot>.log) before
//      the run is handed on; the RunResult names it and its SHA-256. A log that cannot be
//      written (a full disk) ends the batch with an error instead of a run.
//
// Outcomes:
//   exit 0 pass, 125 skip, 1..124/126/127 fail, other statuses infra, guest-side timeout hang;
//   a crash report on the console during the run (or a panic that ended QEMU) crash;
//   no "end" within test.timeout + grace of a run's "begin" (an unmount that never returns
//   included), or no "ready" within qemu.boot_timeout hang (infra if the kernel printed nothing
//   at all, or is qemu.kernel: a prebuilt kernel is the same at every commit); QEMU failing to
//   start, exiting without a crash report, a scratch disk the guest cannot mount (with no report
//   while mounting), modules that do not load, anything between two runs (a report, QEMU ending, no
//   next "begin" within test.timeout + grace) infra.
// A crash, hang or infra ends the boot; the batch then ends early (the engine plans again).
//
// Accel: "auto" tries KVM once per runner with a probe boot that must print within a few seconds
// (a present /dev/kvm can hang), else TCG; "kvm" needs /dev/kvm to open read-write, or the batch
// fails (a Result error) before any run, a skip included, and before QEMU starts; accel() says
// what was chosen.
//
// Thread rules: a QemuRunner is used by one thread at a time, the thread that created it (QEMU's
// parent-death signal is tied to the starting thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/process.h"
#include "base/result.h"
#include "config/config.h"
#include "run/runner.h"

namespace flakebisect::run {

struct QemuRunnerOptions {
  config::QemuConfig qemu;
  config::ScratchConfig scratch;
  config::ReproducerConfig reproducer;
  // Set: run xfstests' ./check instead of the reproducer (each run gets two disks, TEST_DEV and
  // SCRATCH_DEV, and the guest chroots into xfstests.root shared over virtio-9p).
  std::optional<config::XfstestsConfig> xfstests;
  std::chrono::milliseconds run_timeout{600000};  // test.timeout, per run
  // test.no_output_timeout: the guest kills a reproducer whose output has not grown for this long
  // (whole seconds, checked every second); 0 = never. Not with xfstests.
  std::chrono::milliseconds no_output_timeout{0};
  std::string work_dir;   // per-boot private directories (scratch images) go here; required
  std::string cache_dir;  // cached base initramfs archives; required
  // Where a prebuilt qemu.kernel is kept unpacked for a direct (PVH) boot (qemu.direct_boot,
  // run/kernel_image.h); required with qemu.direct_boot.
  std::string kernel_cache_dir;
  std::string log_dir;    // console logs (one per boot) are kept here; required
  // Where the bundled guest programs (fb-dio-check) are; empty = next to the running executable.
  std::string helper_dir;
  std::string busybox = "/bin/busybox";  // a static busybox (Debian: busybox-static)
  // The image's file name in a build's artifact directory (kernel.target), when qemu.kernel is
  // empty.
  std::string artifact_image = "bzImage";
  std::string init_script;               // the guest /init; empty = the bundled qemu/guest/init
  // Slack added to test.timeout on the host before a silent run counts as a hang: the guest's own
  // timeout fires first when the kernel still works.
  std::chrono::milliseconds host_grace{30000};
  std::chrono::milliseconds kvm_probe_timeout{15000};
  // The KVM device that qemu.accel "auto" probes and "kvm" requires (read-write).
  std::string kvm_device = "/dev/kvm";
};

class QemuRunner final : public Runner {
 public:
  // `processes` (mkfs, modprobe) must outlive the runner.
  QemuRunner(base::ProcessRunner& processes, QemuRunnerOptions options);
  ~QemuRunner() override;

  base::Result<RunResult> run(const build::CommitCheckout& checkout, uint32_t run_index) override;
  base::Status run_batch(const build::CommitCheckout& checkout, uint32_t first_index,
                         uint32_t count, const RunSink& sink) override;

  // "kvm" or "tcg" once a boot has chosen; nullopt before.
  std::optional<std::string> accel() const override {
    return accel_.empty() ? std::nullopt : std::optional<std::string>(accel_);
  }

 private:
  struct Boot;
  // no_output_timeout in whole seconds, rounded up (0 = none).
  int64_t no_output_seconds() const { return (options_.no_output_timeout.count() + 999) / 1000; }
  base::Result<std::string> choose_accel(const std::string& kernel);
  base::Result<std::vector<std::string>> module_paths();
  base::Result<std::string> base_initramfs();
  base::Result<std::string> kernel_image(const build::CommitCheckout& checkout) const;
  // What QEMU's -kernel gets for `kernel`: with qemu.direct_boot, the unpacked vmlinux of the
  // prebuilt qemu.kernel when it can boot directly, else `kernel` itself. An error (the cache
  // cannot be written: a full disk) is the batch's, not a quiet bzImage boot under an identity
  // that says direct.
  base::Result<std::string> boot_image(const std::string& kernel);
  base::Result<std::optional<std::string>> reproducer_path(
      const build::CommitCheckout& checkout) const;
  // `share` (xfstests): the host directory the guest writes xfstests' results into.
  std::vector<std::string> qemu_argv(const std::string& accel, const std::string& kernel,
                                     const std::string& initrd, const std::string& results,
                                     const std::vector<std::string>& disks, bool probe = false,
                                     const std::string& share = "") const;

  base::ProcessRunner& processes_;
  QemuRunnerOptions options_;
  std::string accel_;
  std::optional<std::vector<std::string>> modules_;
  std::optional<std::string> base_initramfs_;
  std::map<std::string, std::string> boot_images_;  // boot_image()'s answers
};

// The newest /boot/vmlinuz-<version> whose modules are in /lib/modules/<version> (Debian's
// linux-image-amd64), or "" when there is none: the kernel the demo and the qemu tests boot.
std::string installed_kernel();

// Where a bundled program ("bundled:dio-check") is: fb-<name> in `helper_dir`, or next to the
// running executable when `helper_dir` is empty.
std::string bundled_program_path(const std::string& program, const std::string& helper_dir);

// Most runs in one boot with [xfstests]: each run takes two virtio disks (TEST_DEV, SCRATCH_DEV).
inline constexpr uint32_t kXfstestsRunsPerBoot = 12;

// The host path of `path` inside the guest's root tree `root` ("/" + "/opt/x" = "/opt/x").
std::string path_in_root(const std::string& root, const std::string& path);

// The host files that identify an xfstests experiment: ./check, and for every xfstests.tests
// argument naming a test (generic/418) its script and golden output when present. Errors name
// what is missing when xfstests.dir is not a built xfstests tree (no ./check, no ltp/fsstress).
base::Result<std::vector<std::string>> xfstests_identity_files(
    const config::XfstestsConfig& xfstests);

// The bundled guest init (qemu/guest/init), compiled in.
std::string_view bundled_guest_init();

// The guest's name for the k-th virtio disk (0 -> "vda", 25 -> "vdz", 26 -> "vdaa").
std::string virtio_disk_name(uint32_t k);

// One parsed line of the results channel; nullopt for a line that is not one.
struct ResultsLine {
  enum class Kind { kReady, kBegin, kEnd, kInfra, kError, kDone };
  Kind kind = Kind::kReady;
  uint32_t run = 0;
  std::optional<int> status;  // kEnd: exit status; nullopt = the guest's timeout fired
  bool silent = false;        // kEnd: killed for printing nothing (test.no_output_timeout)
  int64_t ms = 0;
  uint64_t bytes = 0;
  std::string output_tail;  // kEnd: decoded
  std::string what;         // kInfra / kError
};
std::optional<ResultsLine> parse_results_line(std::string_view line);

}  // namespace flakebisect::run

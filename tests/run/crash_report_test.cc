#include "run/crash_report.h"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flakebisect::run {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Console excerpts below are written as the kernel prints them (x86_64, 6.1), without the leading
// newline of the raw string; stamped() adds printk timestamps.
std::string text(std::string_view raw) {
  if (raw.starts_with('\n')) {
    raw.remove_prefix(1);
  }
  return std::string(raw);
}

// Prefixes every line with a printk timestamp "[   31.412345] ", advancing 137 us per line.
std::string stamped(std::string_view raw, int second = 31) {
  const std::string plain = text(raw);
  std::string out;
  int micros = 412345;
  for (size_t pos = 0; pos < plain.size();) {
    const size_t newline = plain.find('\n', pos);
    const size_t end = newline == std::string::npos ? plain.size() : newline + 1;
    out += fmt::format("[{:5}.{:06}] ", second, micros);
    out.append(plain, pos, end - pos);
    micros += 137;
    pos = end;
  }
  return out;
}

// An independent check that text is UTF-8 a person can read: well-formed sequences, no control
// characters other than '\n' and '\t'.
bool is_clean_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
        return false;
      }
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > s.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3F);
    }
    const uint32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF) ||
        (code >= 0x80 && code <= 0x9F)) {
      return false;
    }
    i += length;
  }
  return true;
}

size_t count_lines(std::string_view s) { return std::count(s.begin(), s.end(), '\n'); }

std::vector<std::string> titles(std::string_view console) {
  std::vector<std::string> out;
  for (const CrashReport& report : find_crash_reports(console)) {
    out.push_back(report.title);
  }
  return out;
}

std::string title(std::string_view console) {
  const std::optional<CrashReport> report = first_crash(console);
  return report ? report->title : "(no crash)";
}

constexpr std::string_view kBootNoise = R"(
Linux version 6.1.0 (builder@flakebisect) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC
Command line: console=ttyS0 root=/dev/vda rw panic=-1 oops=panic
rcu: Preemptible hierarchical RCU implementation.
rcu: 	RCU event tracing is enabled.
EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none.
Run /init as init process
fb-dio-check: pass 1 of 20: ok
)";

constexpr std::string_view kPageFault = R"(
BUG: unable to handle page fault for address: ffff888007a3f000
#PF: supervisor write access in kernel mode
#PF: error_code(0x0002) - not-present page
PGD 3401067 P4D 3401067 PUD 3402067 PMD 7b2b063 PTE 800ffffff85c0060
Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:ext4_dio_write_iter+0x3c5/0x5a0
Code: 48 8b 45 c8 48 89 c7 e8 a5 5e 00 00 48 8b 45 c8 <c7> 00 00 00 00 00 e9 7b fd ff ff 48 8b
RSP: 0018:ffffc900001f7d68 EFLAGS: 00010246
RAX: ffff888007a3f000 RBX: 0000000000001000 RCX: 0000000000000000
RDX: 0000000000000000 RSI: ffffc900001f7e20 RDI: ffff888007a3f000
FS:  00007f5e2b3c4740(0000) GS:ffff88803ec00000(0000) knlGS:0000000000000000
CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033
CR2: ffff888007a3f000 CR3: 0000000004d22000 CR4: 00000000000006f0
Call Trace:
 <TASK>
 ? ext4_file_write_iter+0x5b/0x80
 vfs_write+0x2b4/0x3f0
 ksys_pwrite64+0x6c/0xa0
 do_syscall_64+0x3b/0x90
 entry_SYSCALL_64_after_hwframe+0x63/0xcd
RIP: 0033:0x7f5e2b4d9d87
Code: 25 18 00 00 00 00 00 00 89 f0 c3
RSP: 002b:00007ffd2a3c1b58 EFLAGS: 00000246 ORIG_RAX: 0000000000000012
 </TASK>
Modules linked in:
CR2: ffff888007a3f000
---[ end trace 0000000000000000 ]---
RIP: 0010:ext4_dio_write_iter+0x3c5/0x5a0
Code: 48 8b 45 c8 48 89 c7 e8 a5 5e 00 00 48 8b 45 c8 <c7> 00 00 00 00 00 e9 7b fd ff ff 48 8b
RSP: 0018:ffffc900001f7d68 EFLAGS: 00010246
Kernel panic - not syncing: Fatal exception
Kernel Offset: disabled
---[ end Kernel panic - not syncing: Fatal exception ]---
)";

constexpr std::string_view kSysrqCrash = R"(
sysrq: Trigger a crash
Kernel panic - not syncing: sysrq triggered crash
CPU: 0 PID: 57 Comm: sh Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
Call Trace:
 <TASK>
 dump_stack_lvl+0x44/0x5c
 panic+0x10c/0x2a6
 ? _printk+0x58/0x73
 sysrq_handle_crash+0x16/0x20
 __handle_sysrq.cold+0x43/0x11b
 write_sysrq_trigger+0x24/0x40
 proc_reg_write+0x51/0x90
 vfs_write+0xc6/0x3a0
 ksys_write+0x5f/0xe0
 do_syscall_64+0x58/0xc0
 entry_SYSCALL_64_after_hwframe+0x64/0xce
RIP: 0033:0x7f0b5c4e3f33
 </TASK>
Kernel Offset: disabled
---[ end Kernel panic - not syncing: sysrq triggered crash ]---
)";

constexpr std::string_view kWarning = R"(
------------[ cut here ]------------
WARNING: CPU: 0 PID: 42 at fs/ext4/inode.c:3620 ext4_iomap_begin+0x2a7/0x2f0
Modules linked in:
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:ext4_iomap_begin+0x2a7/0x2f0
Code: 0f 0b e9 8a fe ff ff 0f 0b b8 fb ff ff ff e9 7e fe ff ff
RSP: 0018:ffffc900001f7b08 EFLAGS: 00010202
Call Trace:
 <TASK>
 iomap_iter+0x14f/0x330
 __iomap_dio_rw+0x1f8/0x7c0
 iomap_dio_rw+0xe/0x40
 ext4_dio_write_iter+0x2a0/0x5a0
 vfs_write+0x2b4/0x3f0
 ksys_pwrite64+0x6c/0xa0
 do_syscall_64+0x3b/0x90
 entry_SYSCALL_64_after_hwframe+0x63/0xcd
 </TASK>
---[ end trace 0000000000000000 ]---
)";

TEST(CrashReportTest, TitlesAPageFaultWithTheRipFunction) {
  const std::string noise = stamped(kBootNoise, 2);
  const std::string report = stamped(kPageFault);
  const std::string console = noise + report;
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "BUG: unable to handle page fault in ext4_dio_write_iter");
  EXPECT_EQ(reports[0].kind, "bug");
  EXPECT_EQ(reports[0].begin, noise.size());
  EXPECT_EQ(reports[0].end, console.size());
  EXPECT_THAT(reports[0].excerpt,
              StartsWith("[   31.412345] BUG: unable to handle page fault for address: "));
  EXPECT_THAT(reports[0].excerpt, HasSubstr("] RIP: 0010:ext4_dio_write_iter+0x3c5/0x5a0\n"));
  EXPECT_THAT(reports[0].excerpt,
              EndsWith("---[ end Kernel panic - not syncing: Fatal exception ]---\n"));
}

TEST(CrashReportTest, APanicAfterAnOopsIsPartOfTheOopsNotAReportOfItsOwn) {
  const std::string console = text(R"(
general protection fault, probably for non-canonical address 0xdffffc0000000003: 0000 [#1] PREEMPT SMP KASAN NOPTI
KASAN: null-ptr-deref in range [0x0000000000000018-0x000000000000001f]
CPU: 1 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:jbd2_journal_dirty_metadata+0x8f/0xb30
Code: 80 3c 02 00 0f 85 0c 09 00 00 49 8b 5d 18 48 b8 00 00 00 00 00 fc ff df
RSP: 0018:ffffc90000fa7898 EFLAGS: 00010202
Call Trace:
 <TASK>
 __ext4_handle_dirty_metadata+0x1a4/0x6b0
 ext4_do_update_inode.isra.0+0x9f6/0x1500
 ext4_mark_iloc_dirty+0x1d3/0x2e0
 </TASK>
Modules linked in:
---[ end trace 0000000000000000 ]---
RIP: 0010:jbd2_journal_dirty_metadata+0x8f/0xb30
RSP: 0018:ffffc90000fa7898 EFLAGS: 00010202
Kernel panic - not syncing: Fatal exception
Kernel Offset: disabled
---[ end Kernel panic - not syncing: Fatal exception ]---
)");
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "general protection fault in jbd2_journal_dirty_metadata");
  EXPECT_EQ(reports[0].kind, "gpf");
  EXPECT_EQ(reports[0].end, console.size());
}

TEST(CrashReportTest, APanicLongAfterAnEarlierReportIsAReportOfItsOwn) {
  std::string console = stamped(kWarning, 5);
  for (int i = 0; i < 200; ++i) {
    console += fmt::format("fb-dio-check: pass {}: ok\n", i);
  }
  console += stamped(kSysrqCrash, 40);
  EXPECT_THAT(titles(console), ElementsAre("WARNING in ext4_iomap_begin",
                                           "Kernel panic - not syncing: sysrq triggered crash"));
}

TEST(CrashReportTest, TitlesTheSysrqCrashByItsPanicMessage) {
  const std::string noise = stamped(kBootNoise, 2);
  const std::string console = noise + stamped(kSysrqCrash, 25);
  const std::optional<CrashReport> report = first_crash(console);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->title, "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_EQ(report->kind, "panic");
  EXPECT_EQ(report->begin, noise.size());  // "sysrq: Trigger a crash" says how it came about
  EXPECT_THAT(report->excerpt, StartsWith("[   25.412345] sysrq: Trigger a crash\n"));
  EXPECT_EQ(report->end, console.size());
}

TEST(CrashReportTest, TitlesANullPointerDereferenceWithoutTimestamps) {
  const std::string console = text(R"(
BUG: kernel NULL pointer dereference, address: 0000000000000008
#PF: supervisor read access in kernel mode
#PF: error_code(0x0000) - not-present page
PGD 0 P4D 0
Oops: 0000 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:ext4_end_io_end.isra.0+0x1c/0x110
Call Trace:
 <TASK>
 ext4_end_io_rsv_work+0xb6/0x180
 process_one_work+0x1c7/0x380
 </TASK>
---[ end trace 0000000000000000 ]---
)");
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);  // the Oops line belongs to the BUG line before it
  EXPECT_EQ(reports[0].title, "BUG: kernel NULL pointer dereference in ext4_end_io_end");
  EXPECT_EQ(reports[0].begin, 0u);
  EXPECT_EQ(reports[0].end, console.size());
}

TEST(CrashReportTest, TitlesAWarningByTheFunctionItNames) {
  const std::string noise = stamped(kBootNoise, 2);
  const std::string console = noise + stamped(kWarning) + "fb-dio-check: pass 2 of 20: ok\n";
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "WARNING in ext4_iomap_begin");
  EXPECT_EQ(reports[0].kind, "warning");
  EXPECT_EQ(reports[0].begin, noise.size());  // from the "cut here" line
  EXPECT_THAT(console.substr(reports[0].begin, reports[0].end - reports[0].begin),
              EndsWith("---[ end trace 0000000000000000 ]---\n"));

  EXPECT_EQ(title("WARNING: CPU: 1 PID: 42 at fs/ext4/inode.c:3620 "
                  "ext4_iomap_begin.isra.0+0x2a7/0x2f0 [ext4]\n"),
            "WARNING in ext4_iomap_begin");
  EXPECT_EQ(title("WARNING: CPU: 1 PID: 42 at ext4_iomap_begin+0x2a7/0x2f0\n"),
            "WARNING in ext4_iomap_begin");
  EXPECT_EQ(title("WARNING: at fs/ext4/inode.c:3620 ext4_iomap_begin()\n"),
            "WARNING in ext4_iomap_begin");
  EXPECT_EQ(title("WARNING: CPU: 1 PID: 42 at fs/ext4/inode.c:3620 0xffffffffc0123456\n"),
            "WARNING at fs/ext4/inode.c");
}

TEST(CrashReportTest, APanicOnWarnIsPartOfTheWarning) {
  const std::string console = text(R"(
------------[ cut here ]------------
WARNING: CPU: 0 PID: 42 at fs/ext4/inode.c:3620 ext4_iomap_begin+0x2a7/0x2f0
Modules linked in:
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
RIP: 0010:ext4_iomap_begin+0x2a7/0x2f0
Kernel panic - not syncing: panic_on_warn set ...
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Call Trace:
 <TASK>
 dump_stack_lvl+0x44/0x5c
 panic+0x10c/0x2a6
 check_panic_on_warn.cold+0x19/0x19
 __warn+0x8e/0x110
 iomap_iter+0x14f/0x330
 </TASK>
Kernel Offset: disabled
---[ end Kernel panic - not syncing: panic_on_warn set ... ]---
)");
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "WARNING in ext4_iomap_begin");
  EXPECT_EQ(reports[0].end, console.size());
}

TEST(CrashReportTest, TitlesAKernelBugByTheRipFunctionOrItsLocation) {
  const std::string head = text(R"(
------------[ cut here ]------------
kernel BUG at fs/ext4/inode.c:2719!
invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
)");
  const std::string rest = text(R"(
RIP: 0010:ext4_writepages+0x10d4/0x1100
Code: 0f 0b 0f 0b 0f 0b 48 8b 44 24 28 48 8b 50 48 e9 58 f4 ff ff
Call Trace:
 <TASK>
 do_writepages+0xc1/0x1d0
 filemap_fdatawrite_wbc+0x5f/0x80
 </TASK>
---[ end trace 0000000000000000 ]---
)");
  const std::optional<CrashReport> report = first_crash(head + rest);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->title, "kernel BUG in ext4_writepages");
  EXPECT_EQ(report->kind, "bug");
  EXPECT_EQ(title(head), "kernel BUG at fs/ext4/inode.c!");
}

TEST(CrashReportTest, TitlesABareOopsByTheRipFunction) {
  const std::optional<CrashReport> report = first_crash(text(R"(
Oops: 0000 [#1] PREEMPT SMP NOPTI
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:ext4_block_write_begin+0x1d3/0x5f0
---[ end trace 0000000000000000 ]---
)"));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->title, "Oops in ext4_block_write_begin");
  EXPECT_EQ(report->kind, "oops");
  EXPECT_EQ(title("Oops: 0000 [#1] PREEMPT SMP NOPTI\n"), "Oops");
}

TEST(CrashReportTest, TitlesLockdepDeadlocksByTheLockBeingTaken) {
  const std::string circular = stamped(R"(
======================================================
WARNING: possible circular locking dependency detected
6.1.0 #1 Not tainted
------------------------------------------------------
fb-dio-check/42 is trying to acquire lock:
ffff888004c1da48 (&sb->s_type->i_mutex_key#8){++++}-{3:3}, at: ext4_dio_write_iter+0x10c/0x5a0

but task is already holding lock:
ffff888003e5a9b8 (&ei->i_data_sem){++++}-{3:3}, at: ext4_map_blocks+0x150/0x640

which lock already depends on the new lock.


the existing dependency chain (in reverse order) is:

-> #1 (&ei->i_data_sem){++++}-{3:3}:
       down_write+0x3d/0xc0
       ext4_map_blocks+0x150/0x640

-> #0 (&sb->s_type->i_mutex_key#8){++++}-{3:3}:
       __lock_acquire+0x11c9/0x1e80
       lock_acquire+0xc4/0x2e0
       down_write+0x3d/0xc0
       ext4_dio_write_iter+0x10c/0x5a0

other info that might help us debug this:

 Possible unsafe locking scenario:

       CPU0                    CPU1
       ----                    ----
  lock(&ei->i_data_sem);
                               lock(&sb->s_type->i_mutex_key#8);
                               lock(&ei->i_data_sem);
  lock(&sb->s_type->i_mutex_key#8);

 *** DEADLOCK ***

stack backtrace:
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Call Trace:
 <TASK>
 dump_stack_lvl+0x5b/0x77
 check_noncircular+0xf3/0x110
 </TASK>
)");
  const std::vector<CrashReport> reports = find_crash_reports(circular);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "possible deadlock in ext4_dio_write_iter");
  EXPECT_EQ(reports[0].kind, "lockdep");
  EXPECT_EQ(reports[0].begin, 0u);  // from the row of '='

  EXPECT_EQ(title(text(R"(
============================================
WARNING: possible recursive locking detected
6.1.0 #1 Not tainted
--------------------------------------------
fb-dio-check/42 is trying to acquire lock:
ffff888003e5a9b8 (&ei->i_data_sem){++++}-{3:3}, at: ext4_da_map_blocks.constprop.0+0x1f4/0x5d0
)")),
            "possible deadlock in ext4_da_map_blocks");
  // Reports decoded by syzkaller-style tools put an [inline] site first; the real frame follows.
  EXPECT_EQ(title(text(R"(
========================================================
WARNING: possible irq lock inversion dependency detected
6.1.0 #1 Not tainted
--------------------------------------------------------
swapper/0/0 just changed the state of lock:
ffff888004c1da48 (&ei->i_completed_io_lock){..-.}-{2:2}, at: spin_lock include/linux/spinlock.h:350 [inline]
ffff888004c1da48 (&ei->i_completed_io_lock){..-.}-{2:2}, at: ext4_end_io_rsv_work+0x3e/0x180
)")),
            "possible deadlock in ext4_end_io_rsv_work");
}

TEST(CrashReportTest, TitlesOtherLockdepReportsByTheirHeadline) {
  EXPECT_EQ(title(text(R"(
=============================
WARNING: suspicious RCU usage
6.1.0 #1 Not tainted
-----------------------------
fs/ext4/super.c:1234 suspicious rcu_dereference_check() usage!

other info that might help us debug this:
)")),
            "suspicious RCU usage at fs/ext4/super.c");
  EXPECT_EQ(title(text(R"(
=====================================
WARNING: bad unlock balance detected!
6.1.0 #1 Not tainted
-------------------------------------
fb-dio-check/42 is trying to release lock (&ei->i_data_sem) at:
[<ffffffff8131a2b4>] ext4_ext_truncate+0x54/0x110
)")),
            "bad unlock balance in ext4_ext_truncate");
  const std::optional<CrashReport> unknown = first_crash(text(R"(
====================================
WARNING: nested lock was not taken!
6.1.0 #1 Not tainted
------------------------------------
)"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->title, "WARNING: nested lock was not taken");
  EXPECT_EQ(unknown->kind, "lockdep");
}

TEST(CrashReportTest, TitlesSleepingInAtomicContextByTheFirstCallerThatIsNotTheCheck) {
  const std::string head = text(R"(
BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580
in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 42, name: fb-dio-check
preempt_count: 1, expected: 0
RCU nest depth: 0, expected: 0
1 lock held by fb-dio-check/42:
 #0: ffff888003e5aa30 (&ei->i_raw_lock){+.+.}-{2:2}, at: ext4_do_update_inode.isra.0+0x8c/0x7f0
Preemption disabled at:
[<ffffffff812f4a1c>] ext4_do_update_inode.isra.0+0x8c/0x7f0
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
)");
  const std::string trace = text(R"(
Call Trace:
 <TASK>
 dump_stack_lvl+0x5b/0x77
 __might_resched.cold+0xff/0x13a
 __mutex_lock+0x4c/0x8f0
 ext4_orphan_add+0x1a2/0x4b0
 ext4_truncate+0x3c8/0x560
 </TASK>
)");
  const std::optional<CrashReport> report = first_crash(head + trace);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->title, "BUG: sleeping function called from invalid context in ext4_orphan_add");
  EXPECT_EQ(report->kind, "bug");
  EXPECT_EQ(title(head),
            "BUG: sleeping function called from invalid context at kernel/locking/mutex.c");
}

TEST(CrashReportTest, TitlesASoftLockupByTheRipFunction) {
  const std::string console = stamped(R"(
watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fb-dio-check:42]
Modules linked in:
irq event stamp: 48212
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:ext4_es_scan_range+0x6e/0xa0
Code: 48 89 df e8 13 fe ff ff 48 85 c0 74 e6 48 8b 50 18 48 39 d3 73 dd
RSP: 0018:ffffc900001f7a40 EFLAGS: 00000246
Call Trace:
 <TASK>
 ext4_da_map_blocks.constprop.0+0x2c1/0x5d0
 ext4_da_write_begin+0x1bf/0x3b0
 </TASK>
Kernel panic - not syncing: softlockup: hung tasks
)");
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "BUG: soft lockup in ext4_es_scan_range");
  EXPECT_EQ(reports[0].kind, "soft_lockup");
  EXPECT_EQ(title("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fb-dio-check:42]\n"),
            "BUG: soft lockup");
}

TEST(CrashReportTest, TitlesAnRcuStallByTheStalledFunctionNotTheTimerInterrupt) {
  const std::optional<CrashReport> self_detected = first_crash(stamped(R"(
rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: 	0-....: (21000 ticks this GP) idle=4c4c/1/0x4000000000000000 softirq=2391/2391 fqs=5247
	(t=21002 jiffies g=2961 q=127 ncpus=2)
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
Call Trace:
 <IRQ>
 dump_stack_lvl+0x44/0x5c
 nmi_cpu_backtrace.cold+0x30/0x70
 nmi_trigger_cpumask_backtrace+0xd1/0xf0
 rcu_dump_cpu_stacks+0xc5/0x100
 rcu_sched_clock_irq.cold+0x2ce/0x5d0
 update_process_times+0x8c/0xc0
 tick_sched_handle+0x22/0x60
 tick_sched_timer+0x7a/0x90
 __hrtimer_run_queues+0x124/0x2b0
 hrtimer_interrupt+0xf8/0x230
 __sysvec_apic_timer_interrupt+0x5f/0x130
 sysvec_apic_timer_interrupt+0x6d/0x90
 </IRQ>
 <TASK>
 asm_sysvec_apic_timer_interrupt+0x16/0x20
RIP: 0010:ext4_es_scan_range+0x6e/0xa0
Code: 48 89 df e8 13 fe ff ff 48 85 c0 74 e6 48 8b 50 18 48 39 d3 73 dd
RSP: 0018:ffffc900001f7a40 EFLAGS: 00000246
 ext4_da_map_blocks.constprop.0+0x2c1/0x5d0
 ext4_da_write_begin+0x1bf/0x3b0
 </TASK>
)"));
  ASSERT_TRUE(self_detected);
  EXPECT_EQ(self_detected->title, "INFO: rcu detected stall in ext4_es_scan_range");
  EXPECT_EQ(self_detected->kind, "rcu_stall");

  // A preempted reader: no registers, only the task's stack.
  EXPECT_EQ(title(text(R"(
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: 	Tasks blocked on level-0 rcu_node (CPUs 0-1): P42
	(detected by 1, t=21002 jiffies, g=2961, q=127 ncpus=2)
task:fb-dio-check    state:R  running task     stack:0     pid:42    ppid:1      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x2f5/0x950
 ? ext4_es_lookup_extent+0x10/0x1e0
 preempt_schedule_irq+0x3a/0x70
 irqentry_exit+0x31/0x40
 asm_sysvec_apic_timer_interrupt+0x16/0x20
 ext4_es_lookup_extent+0x1a/0x1e0
 ext4_map_blocks+0x9d/0x640
 </TASK>
)")),
            "INFO: rcu detected stall in ext4_es_lookup_extent");
  EXPECT_EQ(title("INFO: rcu_sched detected stalls on CPUs/tasks:\n"), "INFO: rcu detected stall");
}

TEST(CrashReportTest, TitlesAHungTaskByTheFirstFrameThatIsNotWaiting) {
  const std::string head = text(R"(
INFO: task fb-dio-check:42 blocked for more than 122 seconds.
      Not tainted 6.1.0 #1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
task:fb-dio-check    state:D stack:0     pid:42    ppid:1      flags:0x00004000
)");
  const std::string trace = text(R"(
Call Trace:
 <TASK>
 __schedule+0x2f5/0x950
 schedule+0x5d/0xe0
 rwsem_down_write_slowpath+0x24f/0x640
 ext4_buffered_write_iter+0x3b/0x160
 vfs_write+0x2b4/0x3f0
 </TASK>
)");
  const std::optional<CrashReport> report = first_crash(stamped(head + trace, 160));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->title, "INFO: task hung in ext4_buffered_write_iter");
  EXPECT_EQ(report->kind, "hung_task");
  EXPECT_EQ(title(head), "INFO: task fb-dio-check blocked");

  // One report per blocked task.
  EXPECT_THAT(titles(head + trace + head + trace),
              ElementsAre("INFO: task hung in ext4_buffered_write_iter",
                          "INFO: task hung in ext4_buffered_write_iter"));
}

TEST(CrashReportTest, TitlesSanitizerReportsWithTheAccessType) {
  const std::string kasan = text(R"(
==================================================================
BUG: KASAN: slab-use-after-free in ext4_search_dir+0x1a2/0x1c0
Read of size 1 at addr ffff88800a4b2f43 by task fb-dio-check/42

CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
Call Trace:
 <TASK>
 dump_stack_lvl+0x5b/0x77
 print_report+0x170/0x4a7
 kasan_report+0xb1/0x130
 ext4_search_dir+0x1a2/0x1c0
 </TASK>

Allocated by task 42:
 kasan_save_stack+0x1e/0x40
 __kasan_kmalloc+0x7f/0x90

Freed by task 42:
 kasan_save_stack+0x1e/0x40
 kfree+0xa5/0x1a0

The buggy address belongs to the object at ffff88800a4b2f00
 which belongs to the cache kmalloc-128 of size 128
Memory state around the buggy address:
 ffff88800a4b2e00: fa fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb
>ffff88800a4b2f00: fa fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb
                                                ^
==================================================================
)");
  const std::string after = "Disabling lock debugging due to kernel taint\nfb-dio-check: pass 3\n";
  const std::vector<CrashReport> reports = find_crash_reports(kasan + after);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "KASAN: slab-use-after-free Read in ext4_search_dir");
  EXPECT_EQ(reports[0].kind, "kasan");
  EXPECT_EQ(reports[0].begin, 0u);
  EXPECT_EQ(reports[0].end, kasan.size());  // the closing row of '=' ends it

  EXPECT_EQ(title("BUG: KASAN: use-after-free in ext4_xattr_set_entry+0x2b1/0x1c80\n"
                  "Write of size 4 at addr ffff88800a4b2f43 by task fb-dio-check/42\n"),
            "KASAN: use-after-free Write in ext4_xattr_set_entry");
  EXPECT_EQ(title("BUG: KCSAN: data-race in ext4_mark_iloc_dirty / ext4_do_update_inode\n"),
            "KCSAN: data-race in ext4_mark_iloc_dirty / ext4_do_update_inode");
  EXPECT_EQ(title("BUG: KFENCE: use-after-free read in ext4_fill_super+0x1b3/0x2a60\n"),
            "KFENCE: use-after-free read in ext4_fill_super");
}

TEST(CrashReportTest, TitlesUbsanReportsByTheFunctionInTheTrace) {
  const std::optional<CrashReport> report = first_crash(text(R"(
================================================================================
UBSAN: array-index-out-of-bounds in fs/ext4/xattr.c:1825:27
index 4 is out of range for type '__le32 [4]'
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
Call Trace:
 <TASK>
 dump_stack_lvl+0x5b/0x77
 __ubsan_handle_out_of_bounds.cold+0x44/0x49
 ext4_xattr_set_entry+0x1a1/0x1c80
 </TASK>
================================================================================
)"));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->title, "UBSAN: array-index-out-of-bounds in ext4_xattr_set_entry");
  EXPECT_EQ(report->kind, "ubsan");
}

TEST(CrashReportTest, AUbsanReportWithoutATraceIsTitledByItsFile) {
  EXPECT_EQ(title("UBSAN: shift-out-of-bounds in fs/ext4/super.c:4105:24\n"
                  "shift exponent 4294967295 is too large\n"),
            "UBSAN: shift-out-of-bounds in fs/ext4/super.c");
}

// The same bug must get the same title at every commit of the range and in every run, so that
// test.signature matches it: no offsets, source lines, addresses or timings in a title.
TEST(CrashReportTest, TitlesKeepNoOffsetLineNumberOrAddress) {
  EXPECT_EQ(title("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
                  "ext4_foo+0x1a3/0x1b0\n"),
            "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ext4_foo");
  EXPECT_EQ(title(text(R"(
BUG: Dentry ffff888003a1b2c0{i=c,n=file}  still in use (1) [unmount of ext4 vdb]
CPU: 0 PID: 42 Comm: umount Not tainted 6.1.0 #1
)")),
            "BUG: Dentry ADDR{i=c,n=file}  still in use");
  EXPECT_EQ(title("kernel BUG at fs/ext4/inode.c:2719!\n"), "kernel BUG at fs/ext4/inode.c!");
  for (const char* seconds : {"122", "241"}) {
    EXPECT_EQ(title(std::string("INFO: task fb-dio-check:42 blocked for more than ") + seconds +
                    " seconds.\n"),
              "INFO: task fb-dio-check blocked");
  }
}

// The first line of a warning as kernels since 2025 print it.
TEST(CrashReportTest, ReadsTheNewerWarningLine) {
  const std::string line =
      "WARNING: fs/ext4/inode.c:1234 at ext4_foo+0x12/0x40, CPU#1: fb-dio-check/42\n";
  EXPECT_EQ(title(line), "WARNING in ext4_foo");
  const std::optional<CrashReport> report =
      first_crash("------------[ cut here ]------------\n" + line);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->kind, "warning");
  EXPECT_EQ(report->title, "WARNING in ext4_foo");
}

TEST(CrashReportTest, LooseBugLinesNeedTheKernelsContextAfterThem) {
  EXPECT_EQ(title(text(R"(
BUG: scheduling while atomic: fb-dio-check/42/0x00000002
Modules linked in:
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
)")),
            "BUG: scheduling while atomic");
  EXPECT_EQ(title(text(R"(
BUG: Bad page state in process fb-dio-check  pfn:07a3f
page:ffffea00001e8fc0 refcount:0 mapcount:0 mapping:0000000000000000 index:0x1 pfn:0x7a3f
CPU: 0 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
)")),
            "BUG: Bad page state");
  EXPECT_EQ(title("BUG: the test harness found a mismatch\nfb-dio-check: pass 4: FAILED\n"),
            "(no crash)");
}

TEST(CrashReportTest, ReadsLogLevelsAndCallerIdsBeforeMarkers) {
  const std::string console = text(R"(
<6>[    2.104411][    T1] Run /init as init process
<1>[   31.412345][   T42] BUG: kernel NULL pointer dereference, address: 0000000000000008
<1>[   31.412789][   T42] #PF: supervisor read access in kernel mode
<4>[   31.413600][   T42] Oops: 0000 [#1] PREEMPT SMP NOPTI
<4>[   31.413800][   T42] CPU: 1 PID: 42 Comm: fb-dio-check Not tainted 6.1.0 #1
<4>[   31.414500][   T42] RIP: 0010:ext4_end_io_end+0x1c/0x110
<0>[   31.419600][   T42] Kernel panic - not syncing: Fatal exception
)");
  EXPECT_THAT(titles(console),
              ElementsAre("BUG: kernel NULL pointer dereference in ext4_end_io_end"));
  EXPECT_EQ(
      title("[   31.412345] [    C1] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [a:1]\n"
            "[   31.412545] [    C1] RIP: 0010:ext4_es_scan_range+0x6e/0xa0\n"),
      "BUG: soft lockup in ext4_es_scan_range");
}

TEST(CrashReportTest, ReadsCrLfLineEnds) {
  std::string console;
  for (char c : stamped(kPageFault)) {
    if (c == '\n') {
      console += '\r';
    }
    console += c;
  }
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "BUG: unable to handle page fault in ext4_dio_write_iter");
  EXPECT_EQ(reports[0].end, console.size());
  EXPECT_THAT(reports[0].excerpt, ::testing::Not(HasSubstr("\r")));
}

TEST(CrashReportTest, FindsAReportAmidBinaryGarbage) {
  using namespace std::string_literals;
  const std::string garbage = "\x00\x00\xff\xfe\x80junk\x1b[31m\xc3\x28\x00 \xed\xa0\x80\n"s;
  std::string report = stamped(kPageFault);
  report.insert(report.find("fb-dio-check Not tainted"), "\xff\x00\xfe"s);
  // Garbage without a newline before the kernel's line, as when a program's output is cut off.
  const std::string console = garbage + garbage + "\x00\x00"s + report + garbage;
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "BUG: unable to handle page fault in ext4_dio_write_iter");
  EXPECT_EQ(reports[0].begin, 2 * garbage.size());
  EXPECT_TRUE(is_clean_utf8(reports[0].excerpt)) << reports[0].excerpt;
  EXPECT_THAT(reports[0].excerpt, HasSubstr("Comm: \xEF\xBF\xBD"
                                            "fb-dio-check"));
}

TEST(CrashReportTest, ATruncatedReportGetsTheTitleItCanProve) {
  const std::string full = stamped(kPageFault);
  const std::string before_rip = full.substr(0, full.find("RIP: 0010"));
  EXPECT_EQ(title(before_rip), "BUG: unable to handle page fault");
  const std::string mid_trace = full.substr(0, full.find("ksys_pwrite64") + 4);  // no newline
  const std::optional<CrashReport> report = first_crash(mid_trace);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->title, "BUG: unable to handle page fault in ext4_dio_write_iter");
  EXPECT_EQ(report->end, mid_trace.size());
  EXPECT_THAT(report->excerpt, EndsWith(" ksys\n"));
  EXPECT_EQ(title(full.substr(0, 20)), "(no crash)");  // cut inside the marker itself
}

TEST(CrashReportTest, AMarkerInsideALineIsNotAReport) {
  const std::string console = text(R"(
echo said: Kernel panic - not syncing: sysrq triggered crash
fb-dio-check: BUG: unable to handle page fault for address: 0000000000000000
[   12.000000] systemd[1]: WARNING: CPU: 0 PID: 1 at fs/ext4/inode.c:1 ext4_foo+0x1/0x2
grep 'kernel BUG at' /var/log/kern.log
  Kernel panic - not syncing: indented by a program
WARNING: the reproducer found stale data at offset 4096
Oops: the reproducer lost its temporary file
INFO: task list printed by the test harness
UBSAN
)");
  EXPECT_THAT(find_crash_reports(console), IsEmpty());
  EXPECT_FALSE(first_crash(console));
}

TEST(CrashReportTest, TextWithoutReportsGivesNone) {
  EXPECT_THAT(find_crash_reports(""), IsEmpty());
  EXPECT_THAT(find_crash_reports(stamped(kBootNoise)), IsEmpty());
  EXPECT_THAT(find_crash_reports(std::string(1000, '\0')), IsEmpty());
}

TEST(CrashReportTest, FindsAReportAfterTenMegabytesOfNoise) {
  std::string console;
  console.reserve(11 << 20);
  for (int pass = 0; console.size() < (10u << 20); ++pass) {
    console += fmt::format("fb-dio-check: pass {}: wrote 4096 bytes at offset {:#x}: ok\n", pass,
                           pass * 4096);
  }
  console.append(10000, 'x');  // and one long line
  console += '\n';
  const size_t noise = console.size();
  console += stamped(kSysrqCrash, 900);
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_EQ(reports[0].begin, noise);
}

TEST(CrashReportTest, TheExcerptIsValidUtf8AndBounded) {
  std::string console = text(R"(
BUG: unable to handle page fault for address: ffff888007a3f000
Oops: 0002 [#1] PREEMPT SMP NOPTI
RIP: 0010:ext4_dio_write_iter+0x3c5/0x5a0
Call Trace:
)");
  console += std::string(100000, 'A') + "\xe2\x82\xac\n";  // a long line with a euro sign
  for (int i = 0; i < 1000; ++i) {
    console += fmt::format(" ext4_frame_{}+0x10/0x20 \xe2\x82\xac\xff\n", i);
  }
  const std::vector<CrashReport> reports = find_crash_reports(console);
  ASSERT_EQ(reports.size(), 1u);
  const std::string& excerpt = reports[0].excerpt;
  EXPECT_TRUE(is_clean_utf8(excerpt));
  EXPECT_LE(excerpt.size(), kMaxExcerptBytes);
  EXPECT_LE(count_lines(excerpt), kMaxExcerptLines);
  EXPECT_THAT(excerpt, HasSubstr("AAAA [...]\n"));
  EXPECT_THAT(excerpt, EndsWith("\n"));
  // The report stops kMaxReportLines lines after its marker when nothing ends it.
  EXPECT_LT(reports[0].end, console.size());
  EXPECT_EQ(count_lines(console.substr(reports[0].begin, reports[0].end - reports[0].begin)),
            kMaxReportLines);
}

TEST(CrashReportTest, ReportsComeInOrderWithTheirOwnRanges) {
  std::string console = stamped(kBootNoise, 2);
  console += stamped(kWarning, 5);
  for (int i = 0; i < 100; ++i) {
    console += fmt::format("fb-dio-check: pass {}: ok\n", i);
  }
  console += text(R"(
==================================================================
BUG: KASAN: slab-out-of-bounds in ext4_read_inline_data+0x1c5/0x200
Write of size 8 at addr ffff88800a4b2f80 by task fb-dio-check/42
==================================================================
INFO: task fb-dio-check:42 blocked for more than 122 seconds.
Call Trace:
 schedule+0x5d/0xe0
 ext4_sync_file+0x1d0/0x3e0
INFO: task jbd2/vda-8:61 blocked for more than 122 seconds.
Call Trace:
 schedule+0x5d/0xe0
 jbd2_journal_commit_transaction+0x2c1/0x1b20
)");
  const std::vector<CrashReport> reports = find_crash_reports(console);
  std::vector<std::string> got;
  for (const CrashReport& report : reports) {
    got.push_back(report.kind + ": " + report.title);
  }
  EXPECT_THAT(got, ElementsAre("warning: WARNING in ext4_iomap_begin",
                               "kasan: KASAN: slab-out-of-bounds Write in ext4_read_inline_data",
                               "hung_task: INFO: task hung in ext4_sync_file",
                               "hung_task: INFO: task hung in jbd2_journal_commit_transaction"));
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_LT(reports[i].begin, reports[i].end);
    if (i > 0) {
      EXPECT_LE(reports[i - 1].end, reports[i].begin);
    }
  }
  ASSERT_TRUE(first_crash(console));
  EXPECT_EQ(first_crash(console)->title, "WARNING in ext4_iomap_begin");
}

TEST(CrashReportTest, FrameFunctionStripsOffsetsModulesAndCompilerSuffixes) {
  EXPECT_EQ(frame_function(" ext4_dio_write_iter+0x3c5/0x5a0"), "ext4_dio_write_iter");
  EXPECT_EQ(frame_function("[   31.418100]  ext4_map_blocks.isra.0+0x150/0x640 [ext4]"),
            "ext4_map_blocks");
  EXPECT_EQ(frame_function("RIP: 0010:__ext4_handle_dirty_metadata.constprop.0+0x1a4/0x6b0"),
            "__ext4_handle_dirty_metadata");
  EXPECT_EQ(frame_function(" ext4_writepages.cold+0x12/0x40"), "ext4_writepages");
  EXPECT_EQ(frame_function(" ext4_fill_super.part.0+0x10/0x20"), "ext4_fill_super");
  EXPECT_EQ(frame_function("RIP: ext4_fill_super+0x10/0x20"), "ext4_fill_super");
  EXPECT_EQ(frame_function("RIP: 0010:[<ffffffff8123a4b5>]  [<ffffffff8123a4b5>] "
                           "ext4_fill_super+0x15/0x30"),
            "ext4_fill_super");
  EXPECT_EQ(frame_function(" [<ffffffff8123a4b5>] ext4_fill_super+0x15/0x30"), "ext4_fill_super");
  EXPECT_EQ(frame_function("pc : ext4_fill_super+0x15/0x30"), "ext4_fill_super");
  EXPECT_EQ(frame_function("<4>[   31.418100][   T42]  vfs_write+0x2b4/0x3f0\r"), "vfs_write");
}

TEST(CrashReportTest, FrameFunctionIgnoresUnreliableFramesAndLinesThatAreNotFrames) {
  EXPECT_EQ(frame_function(" ? ext4_file_write_iter+0x5b/0x80"), "");
  EXPECT_EQ(frame_function(" [<ffffffff8123a4b5>] ? ext4_fill_super+0x15/0x30"), "");
  EXPECT_EQ(frame_function("RIP: 0033:0x7f5e2b4d9d87"), "");
  EXPECT_EQ(frame_function("RSP: 0018:ffffc900001f7d68 EFLAGS: 00010246"), "");
  EXPECT_EQ(frame_function("Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)"), "");
  EXPECT_EQ(frame_function(" </TASK>"), "");
  EXPECT_EQ(frame_function(" 0xffffffffc0123456+0x10/0x20"), "");
  EXPECT_EQ(frame_function(" ext4_foo+bar"), "");
  EXPECT_EQ(frame_function(""), "");
}

TEST(CrashReportTest, ConsoleTailKeepsTheLastLinesCleaned) {
  using namespace std::string_literals;
  EXPECT_EQ(console_tail("a\nb\nc\n", 2, 100), "b\nc\n");
  EXPECT_EQ(console_tail("a\nb\nc", 2, 100), "b\nc");
  EXPECT_EQ(console_tail("a\nb\nc\n", 10, 100), "a\nb\nc\n");
  EXPECT_EQ(console_tail("one\r\ntwo\x00\x00\x01three\r\n"s, 5, 100),
            "one\ntwo\xEF\xBF\xBDthree\n");
  EXPECT_EQ(console_tail("caf\xc3\xa9\t\xff\xfe\x1b[0m ok\n", 5, 100),
            "caf\xc3\xa9\t\xEF\xBF\xBD[0m ok\n");
  EXPECT_EQ(console_tail("a\nb\n", 0, 100), "");
  EXPECT_EQ(console_tail("a\nb\n", 2, 0), "");
  EXPECT_EQ(console_tail("", 2, 100), "");
}

TEST(CrashReportTest, ConsoleTailRespectsTheByteLimitWithoutSplittingCharacters) {
  std::string console;
  for (int i = 0; i < 1000; ++i) {
    console += fmt::format("line {} \xc3\xa9\xc3\xa9\xc3\xa9\n", i);
  }
  for (size_t max_bytes : {1, 2, 3, 7, 100, 4095}) {
    const std::string tail = console_tail(console, 50, max_bytes);
    EXPECT_LE(tail.size(), max_bytes);
    EXPECT_GE(tail.size() + 1, std::min<size_t>(max_bytes, 3));
    EXPECT_TRUE(is_clean_utf8(tail)) << max_bytes;
    EXPECT_THAT(tail, EndsWith("\n"));
  }
  EXPECT_THAT(console_tail(console, 50, 4095), StartsWith("line 950 "));
  EXPECT_EQ(count_lines(console_tail(console, 50, 4095)), 50u);

  const std::string one_huge_line = std::string(10u << 20, '\0') + "the end";
  EXPECT_EQ(console_tail(one_huge_line, 5, 11), "\xEF\xBF\xBDthe end");
}

}  // namespace
}  // namespace flakebisect::run

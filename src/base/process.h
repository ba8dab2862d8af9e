// Process: running other programs (git, make, qemu, reproducers) safely.
//
// Every child is started from an argv vector, never through a shell, so refs, paths and commit text
// reach it verbatim. Every child runs in a process group of its own, and on a timeout the whole
// group goes, grandchildren included. When the program exits, anything still left in its group is
// killed too, so no run leaves processes behind.
//
// The tool's direct child is a guard: it leads the group, starts the program (vfork + exec, so it
// costs little), relays the program's exit status as its own (the same code, or death by the same
// signal), and ignores the signals a program may send its own group. It also polls a pipe whose
// write end only the tool holds: when the tool dies, however it dies (kill -9, a crash), the pipe
// reports EOF and the guard kills the group. So a build's compilers do not go on writing into a
// worktree that a restarted tool reuses. PR_SET_PDEATHSIG, which this replaces, reaches one
// process only. The program is the guard's child, not the other way round, so a program that
// reaps every child until there are none sees only its own.
//
// What the child does is data: a non-zero exit, a signal or a timeout is reported in ProcessResult.
// A Result error means the tool failed to run it at all: the executable was not found or could not
// be executed (the error says why, from a look at the file: check_runnable() in paths.h), the cwd
// does not exist, fork or pipe failed, the stdout file could not be written.
//
// Two ways in:
//  - run_process() (or a ProcessRunner) runs a child to completion, feeding stdin and capturing
//    output. Code that runs programs should take a ProcessRunner& so tests can pass a
//    FakeProcessRunner (fake_process_runner.h) and assert on the exact argv.
//  - ChildProcess starts a long-running child (qemu) and hands its output pipes to the caller, who
//    polls them and kills the group when it decides to.
//
// Caveat: children are reaped with waitpid, so the process must not set SIGCHLD to SIG_IGN.
//
// Thread rules: run_process() and SubprocessRunner may be used from many threads at once (all
// descriptors are close-on-exec, the child only makes async-signal-safe calls before exec); they
// read the tool's environment, so nothing may setenv() concurrently. A ChildProcess object is used
// by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace flakebisect::base {

struct ProcessOptions {
  // argv[0] is the program: a name searched in PATH (the PATH from env_set if it sets one, else the
  // tool's own), or a path containing '/' (relative to cwd when cwd is set). Must not be empty.
  std::vector<std::string> argv;
  // Working directory of the child; unset = the tool's.
  std::optional<std::string> cwd;
  // Environment: start from the tool's environment if inherit_env (else from nothing), remove
  // env_unset, then set env_set (later entries win).
  std::vector<std::pair<std::string, std::string>> env_set;
  std::vector<std::string> env_unset;
  bool inherit_env = true;
  // Wall-clock limit for the whole run; 0 = none. On expiry the group is killed with SIGKILL.
  std::chrono::milliseconds timeout{0};
  // Limit on time without a byte on stdout or stderr; 0 = none. On expiry the group is killed.
  std::chrono::milliseconds no_output_timeout{0};
  // Bytes kept per stream. When a stream produces more, the *tail* (the last output_cap bytes) is
  // kept, since that is where errors and panics are, and the rest is counted in *_dropped.
  size_t output_cap = size_t{1} << 20;
  // Written to the child's stdin, which is then closed. Unset: stdin is /dev/null.
  std::optional<std::string> stdin_data;
  // If set, stdout is also written to this file (created or truncated, mode 0600) as it arrives, so
  // it can be followed live. The file is capped like `out`: once it grows well past output_cap it
  // is rewritten to hold only the tail, and when the run ends it holds exactly `out`.
  std::optional<std::string> stdout_path;
  // Send stderr to the same pipe as stdout (interleaved as the child wrote it); `err` stays empty.
  bool merge_stderr = false;
};

struct ProcessResult {
  int exit_code = 0;               // exit status, or -1 if the child was terminated by a signal
  int term_signal = 0;             // the terminating signal, or 0 if the child exited
  bool timed_out = false;          // killed because `timeout` ran out
  bool no_output_timeout = false;  // killed because `no_output_timeout` ran out
  std::string out, err;            // captured tails of stdout and stderr
  uint64_t out_dropped = 0, err_dropped = 0;  // bytes produced but not kept (before the tail)
  std::chrono::milliseconds duration{0};      // from start to exit

  // True if the child exited with status 0 (no signal, no timeout).
  bool succeeded() const { return exit_code == 0 && term_signal == 0; }
  // How the child ended, for messages: "exit 2", "killed by signal 9 (Killed)", "timed out after
  // 300 ms", "no output for 300 ms".
  std::string status_text(const ProcessOptions& options) const;
};

// Runs options.argv to completion and returns what happened. Blocks the calling thread.
Result<ProcessResult> run_process(const ProcessOptions& options);

// Whether a process with this pid exists on this machine (kill(pid, 0); one that is not ours
// counts). False for pid <= 0. A pid alone does not name a process for long: the kernel gives a
// dead process's pid to a later one (after a reboot, or in a container whose entry point is pid 1
// each time). Record process_start_stamp() beside it and ask process_still_alive() instead.
bool process_alive(int64_t pid);

// What tells the process `pid` apart from any later process with the same pid: the boot it runs
// in (/proc/sys/kernel/random/boot_id) and its start time in clock ticks since that boot (field 22
// of /proc/PID/stat), as "BOOT_ID START". Empty when /proc cannot tell (no such process, no /proc).
// Pids and /proc are those of the caller's pid namespace.
//
// Why a stamp recorded with the pid, and not a lock the owner holds on a file beside the store
// (which also survives pid reuse): the check stays what it was, a question asked inside the
// store's transaction; there is no lock file to create beside a read-only store, to clean up, or
// to leak into the build and test commands that the owner starts (a lock they inherited would
// keep a killed owner "alive" while they run); and old rows without a stamp keep working.
std::string process_start_stamp(int64_t pid);

// Whether the process that had `pid` and `start_stamp` (process_start_stamp() when recorded) still
// runs: process_alive(pid), and the process with that pid now is not, as far as /proc can tell, a
// later one (another boot, or another start time). An empty `start_stamp` (recorded where /proc
// could not tell, or by a flakebisect before stamps) leaves the pid alone to decide.
bool process_still_alive(int64_t pid, std::string_view start_stamp);

// The seam for running programs: modules take a ProcessRunner& so that tests can substitute a fake.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual Result<ProcessResult> run(const ProcessOptions& options) = 0;
};

// The real ProcessRunner: run_process(). Stateless; one instance may serve every thread.
class SubprocessRunner final : public ProcessRunner {
 public:
  Result<ProcessResult> run(const ProcessOptions& options) override { return run_process(options); }
};

// How a child ended.
struct ExitStatus {
  int exit_code = 0;    // exit status, or -1 if terminated by a signal
  int term_signal = 0;  // the signal, or 0
};

// A started child the caller controls, for programs that run until told to stop (qemu). The child
// has the same guarantees as in run_process(): own process group, killed if the tool dies, the rest
// of its group killed when it exits. Its stdin is /dev/null. Its stdout goes to options.stdout_path
// if set (uncapped: bound the run by time) or else to a pipe; its stderr to that same place if
// merge_stderr, else to a pipe. The caller must keep reading the pipes, or the child blocks once a
// pipe fills. Destroying a running ChildProcess kills its group with SIGKILL and reaps it.
class ChildProcess {
 public:
  // Starts options.argv. timeout, no_output_timeout and stdin_data are not supported here (the
  // caller owns the clock and the pipes) and are rejected with kInvalidInput; output_cap is unused.
  static Result<ChildProcess> start(const ProcessOptions& options);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // The program's pid: the process to signal to reach the program alone.
  pid_t pid() const { return program_; }
  // Its process group, whose leader is the guard that started the program (the tool's direct
  // child, which relays the program's exit status as its own).
  pid_t group() const { return pid_; }
  // Non-blocking read ends of the output pipes, owned by this object; -1 where the stream is not a
  // pipe (a file, or merged into stdout). Reading 0 bytes means every writer in the group is gone.
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }

  // Sends `signal` to every process in the child's group. Does nothing once the child is reaped
  // (the group id may belong to someone else by then).
  Status kill_group(int signal);
  // Waits up to `timeout` for the child to exit (0 = just check). Returns its status, or nullopt if
  // it is still running. Once it has exited, kills what is left of its group, reaps it, and keeps
  // returning the same status.
  Result<std::optional<ExitStatus>> wait_for(std::chrono::milliseconds timeout);
  // The status if wait_for() has seen the exit.
  const std::optional<ExitStatus>& exit_status() const { return exit_status_; }

 private:
  ChildProcess() = default;
  void release();

  pid_t pid_ = -1;      // the guard: the tool's child, waited for; also the process group
  pid_t program_ = -1;  // the program the guard runs
  int pidfd_ = -1;      // the guard's pollable exit notification; -1 without pidfd_open
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::optional<ExitStatus> exit_status_;
};

}  // namespace flakebisect::base

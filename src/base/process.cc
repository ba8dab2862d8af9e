#include "base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <tuple>

#include "base/paths.h"
#include "base/unique_fd.h"

extern char** environ;  // NOLINT: POSIX global

namespace flakebisect::base {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// After the direct child exits and its group is killed, the output pipes close at once unless a
// descendant escaped the group (setsid) holding them; wait this long for that one, then stop.
constexpr milliseconds kDrainGrace{2000};
// Without pidfd_open (kernels before 5.3), how often to check whether the child exited.
constexpr milliseconds kExitPollInterval{20};
constexpr size_t kReadChunk = size_t{64} * 1024;
// The in-memory tail may grow this far past the cap before it is trimmed, so that trimming (a
// memmove of the kept bytes) is amortised over many reads.
constexpr size_t kMinSlack = size_t{64} * 1024;
constexpr milliseconds::rep kMaxPollMs = milliseconds::rep{24} * 60 * 60 * 1000;

// Where the child failed before exec, sent back over the status pipe.
enum class ChildStage : int { kSetup = 1, kChdir = 2, kExec = 3 };
struct ChildReport {
  int stage;
  int err;
};

// Everything the child needs, prepared before fork: between fork and exec the child may only make
// async-signal-safe calls (another thread may have held malloc's lock at the fork).
struct ExecPlan {
  std::string path;               // what to execve
  std::vector<std::string> argv;  // as given
  std::vector<std::string> env;   // "NAME=value"
};

// execve's null-terminated array of pointers into `strings`, which must outlive it and not move.
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> array;
  array.reserve(strings.size() + 1);
  for (auto& s : strings) {
    array.push_back(s.data());
  }
  array.push_back(nullptr);
  return array;
}

struct ChildStdio {
  int in;
  int out;
  int err;
};

bool contains_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

Result<ExecPlan> plan_exec(const ProcessOptions& options) {
  if (options.argv.empty()) {
    return Error("the command is empty", ErrorCode::kInvalidInput);
  }
  if (options.argv[0].empty()) {
    return Error("the command's program name is empty", ErrorCode::kInvalidInput);
  }
  const std::string& program = options.argv[0];
  for (const auto& arg : options.argv) {
    if (contains_nul(arg)) {
      return Error(program + ": argument contains a NUL byte", ErrorCode::kInvalidInput);
    }
  }

  // The environment as (name, value) in order: inherited, minus unset, then set (replacing).
  std::vector<std::pair<std::string, std::string>> env;
  if (options.inherit_env) {
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view text(*entry);
      const auto eq = text.find('=');
      if (eq == std::string_view::npos) {
        continue;
      }
      env.emplace_back(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
    }
  }
  const auto remove_name = [&env](const std::string& name) {
    std::erase_if(env, [&name](const auto& entry) { return entry.first == name; });
  };
  for (const auto& name : options.env_unset) {
    remove_name(name);
  }
  const std::string* child_path = nullptr;
  for (const auto& [name, value] : options.env_set) {
    if (name.empty() || name.find('=') != std::string::npos || contains_nul(name) ||
        contains_nul(value)) {
      return make_error(ErrorCode::kInvalidInput,
                        "{}: invalid environment variable name or value: '{}'", program, name);
    }
    remove_name(name);
    env.emplace_back(name, value);
    if (name == "PATH") {
      child_path = &value;
    }
  }

  ExecPlan plan;
  if (program.find('/') != std::string::npos) {
    // Checked by execve itself, after the chdir, so that a relative path means relative to cwd.
    plan.path = program;
  } else if (child_path != nullptr) {
    FB_ASSIGN_OR_RETURN(plan.path, find_executable_in(program, *child_path));
  } else {
    FB_ASSIGN_OR_RETURN(plan.path, find_executable(program));
  }
  plan.argv = options.argv;
  plan.env.reserve(env.size());
  for (auto& [name, value] : env) {
    plan.env.push_back(fmt::format("{}={}", name, value));
  }
  return plan;
}

// Moves `fd` to a number above 2 (keeping close-on-exec), so that the child's dup2() onto 0, 1 and
// 2 cannot overwrite another of its sources. Only matters when the tool runs with a standard
// descriptor closed.
Result<UniqueFd> above_stdio(int fd, const char* what) {
  UniqueFd owned(fd);
  if (fd > 2) {
    return owned;
  }
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) {
    return os_error(what, errno);
  }
  return UniqueFd(moved);
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    return os_error("pipe", errno);
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  FB_ASSIGN_OR_RETURN(read_end, above_stdio(read_end.release(), "pipe"));
  FB_ASSIGN_OR_RETURN(write_end, above_stdio(write_end.release(), "pipe"));
  return Pipe{std::move(read_end), std::move(write_end)};
}

Result<UniqueFd> open_cloexec(const char* path, int flags) {
  const int fd = ::open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0) {
    return os_error(path, errno);
  }
  return above_stdio(fd, path);
}

Status set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return os_error("fcntl", errno);
  }
  return {};
}

// The read end of a pipe whose write end only this process holds (close-on-exec, never closed),
// for the whole of its life. A guard polling it sees EOF exactly when the process is gone, however
// it went (SIGKILL, a crash, _exit). Made once per process: a forked copy that starts children of
// its own (tests do that) gets its own pipe. Two threads starting their first children at once may
// each make one; the spare stays open, which is harmless.
Result<int> tool_life_fd() {
  struct LifePipe {
    pid_t owner;
    int read;
  };
  static std::atomic<const LifePipe*> current{nullptr};
  const LifePipe* life = current.load();
  if (life == nullptr || life->owner != ::getpid()) {
    auto pipe = make_pipe();
    if (!pipe) {
      return Error(pipe.error()).context("the pipe that tells children the tool is alive");
    }
    life = new LifePipe{::getpid(), pipe->read.release()};
    [[maybe_unused]] const int write_end = pipe->write.release();  // open until the process ends
    current.store(life);
  }
  return life->read;
}

// Ends the guard the way its program ended, so the tool sees the program's status: its exit code,
// or death by the same signal (without a core file).
[[noreturn]] void relay_status(int status) {
  if (WIFEXITED(status)) {
    ::_exit(WEXITSTATUS(status));
  }
  const int sig = WTERMSIG(status);
  const struct rlimit no_core {};
  ::setrlimit(RLIMIT_CORE, &no_core);
  struct sigaction default_action {};
  ::sigaction(sig, &default_action, nullptr);
  sigset_t only;
  ::sigemptyset(&only);
  ::sigaddset(&only, sig);
  ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
  ::kill(::getpid(), sig);
  ::_exit(128 + sig);
}

// The guard: the tool's direct child, leader of the group, and the parent of the program (started
// with vfork, so nothing is copied). Async-signal-safe calls only. It waits for whichever comes
// first: the program's exit, which it relays as its own, or EOF on the tool's life pipe, on which
// it kills the whole group. So what the program started (make's compilers, a shell's background
// jobs) dies with the tool however the tool dies, which PR_SET_PDEATHSIG (it reaches one process
// only) could not give. It keeps nothing else open, so the program's pipes close when the
// program's side does, and it ignores the signals a program may send its own group (`kill 0` in
// a script), so that the status relayed is the program's.
[[noreturn]] void run_guard(pid_t program, int life_fd) {
  ::close_range(0, static_cast<unsigned>(life_fd) - 1, 0);
  ::close_range(static_cast<unsigned>(life_fd) + 1, ~0U, 0);
  // SIGCHLD is blocked (run_child), so the program's exit waits in the signalfd even if it came
  // before the signalfd did; the waitpid below looks first anyway. Without a signalfd, poll with
  // a short timeout.
  sigset_t child_set;
  ::sigemptyset(&child_set);
  ::sigaddset(&child_set, SIGCHLD);
  const int child_fd = ::signalfd(-1, &child_set, SFD_CLOEXEC | SFD_NONBLOCK);
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(program, &status, WNOHANG);
    if (done == program) {
      relay_status(status);
    }
    if (done < 0 && errno != EINTR) {
      ::_exit(127);
    }
    std::array<pollfd, 2> fds{};
    fds[0] = {life_fd, POLLIN, 0};
    fds[1] = {child_fd, POLLIN, 0};
    if (::poll(fds.data(), fds.size(), child_fd < 0 ? 20 : -1) < 0 && errno != EINTR) {
      ::_exit(127);
    }
    if (fds[0].revents != 0) {
      ::kill(0, SIGKILL);  // the tool is gone: the whole group, this guard included
      ::_exit(127);
    }
    if (fds[1].revents != 0) {
      signalfd_siginfo info{};
      while (::read(child_fd, &info, sizeof info) > 0) {
      }
    }
  }
}

[[noreturn]] void child_fail(int status_fd, ChildStage stage, int err) {
  const ChildReport report{static_cast<int>(stage), err};
  // One write of 8 bytes into an empty pipe is atomic; nothing useful to do if it fails.
  [[maybe_unused]] const ssize_t n = ::write(status_fd, &report, sizeof report);
  ::_exit(127);
}

bool child_dup(int from, int to) {
  if (from == to) {
    // dup2 onto itself keeps close-on-exec set; clear it instead.
    return ::fcntl(from, F_SETFD, 0) == 0;
  }
  return ::dup2(from, to) == to;
}

// Runs in the forked child. Async-signal-safe calls only.
[[noreturn]] void run_child(const char* path, char* const* argv, char* const* envp, const char* cwd,
                            ChildStdio stdio, int status_fd, int life_fd) {
  // Own process group, so a timeout can kill everything the child starts with one kill(-pgid).
  // The parent also waits for exec before using the group, so this cannot race with a kill.
  if (::setpgid(0, 0) != 0) {
    child_fail(status_fd, ChildStage::kSetup, errno);
  }
  // This process becomes the guard: it ignores the signals a program may send its own group
  // (`kill 0` in a script), from before the program exists, so that the status it relays is the
  // program's; it keeps the defaults for SIGCHLD (blocked below, for its signalfd) and for the
  // faults. The program gets every default back before its exec: ignored signals and the mask
  // survive exec (and the tool may ignore SIGPIPE). A value-initialised sigaction is SIG_DFL with
  // an empty mask. Some numbers (SIGKILL, SIGSTOP, glibc's internal ones) refuse; that is fine.
  struct sigaction default_action {};
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int sig = 1; sig < NSIG; ++sig) {
    const bool keep =
        sig == SIGCHLD || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
    ::sigaction(sig, keep ? &default_action : &ignore, nullptr);
  }
  sigset_t child_only;
  ::sigemptyset(&child_only);
  ::sigaddset(&child_only, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &child_only, nullptr);

  if (!child_dup(stdio.in, STDIN_FILENO) || !child_dup(stdio.out, STDOUT_FILENO) ||
      !child_dup(stdio.err, STDERR_FILENO)) {
    child_fail(status_fd, ChildStage::kSetup, errno);
  }
  if (cwd != nullptr && ::chdir(cwd) != 0) {
    child_fail(status_fd, ChildStage::kChdir, errno);
  }
  // vfork: the program borrows this process's memory until its exec (or its _exit), and this
  // process waits until then; the program only resets its signals and execs.
  const pid_t program = ::vfork();
  if (program < 0) {
    child_fail(status_fd, ChildStage::kSetup, errno);
  }
  if (program == 0) {
    // Its own copy of the dispositions (vfork shares memory, not the handler table), as
    // posix_spawn does in the same place.
    for (int sig = 1; sig < NSIG; ++sig) {
      ::sigaction(sig, &default_action, nullptr);
    }
    sigset_t no_signals;
    ::sigemptyset(&no_signals);
    ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    ::execve(path, argv, envp);
    child_fail(status_fd, ChildStage::kExec, errno);
  }
  // The program has exec'd (or failed and said so): tell the tool its pid.
  [[maybe_unused]] const ssize_t n = ::write(status_fd, &program, sizeof program);
  run_guard(program, life_fd);
}

Result<ExitStatus> reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return os_error("waitpid", errno);
    }
  }
  if (WIFSIGNALED(status)) {
    return ExitStatus{-1, WTERMSIG(status)};
  }
  return ExitStatus{WEXITSTATUS(status), 0};
}

// Signals the group `pgid` leads. The fallback to the leader alone only matters if the group is
// somehow gone (it cannot be while the leader is unreaped), but then it still stops the child.
void kill_process_group(pid_t pgid, int signal) {
  if (::kill(-pgid, signal) != 0 && errno == ESRCH) {
    ::kill(pgid, signal);
  }
}

// What spawn() started: the guard, the tool's direct child (waited for, and the process group),
// and the program the guard runs.
struct Spawned {
  pid_t guard = -1;
  pid_t program = -1;
};

// Forks and execs `plan`. Returns once the exec has succeeded; if anything before the exec failed,
// the child has been reaped and the error says what failed. The status pipe carries, in order, a
// ChildReport if a step failed (from the guard before its vfork, or from the program when its exec
// failed) and the program's pid (from the guard once the program has exec'd or exited); every
// write end is closed by then, so EOF follows.
Result<Spawned> spawn(const ProcessOptions& options, ExecPlan& plan, ChildStdio stdio) {
  const std::string& program = options.argv[0];
  FB_ASSIGN_OR_RETURN(Pipe status_pipe, make_pipe());
  const std::vector<char*> argv = c_array(plan.argv);
  const std::vector<char*> envp = c_array(plan.env);
  const char* cwd = options.cwd ? options.cwd->c_str() : nullptr;
  FB_ASSIGN_OR_RETURN(const int life_fd, tool_life_fd());
  const pid_t pid = ::fork();
  if (pid < 0) {
    return os_error("fork", errno).context(program);
  }
  if (pid == 0) {
    run_child(plan.path.c_str(), argv.data(), envp.data(), cwd, stdio, status_pipe.write.get(),
              life_fd);
  }
  status_pipe.write.reset();
  std::array<char, sizeof(ChildReport) + sizeof(pid_t)> message{};
  size_t got = 0;
  while (got < message.size()) {
    const ssize_t n = ::read(status_pipe.read.get(), message.data() + got, message.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  if (got == sizeof(pid_t)) {
    Spawned spawned{pid, -1};
    std::memcpy(&spawned.program, message.data(), sizeof(pid_t));
    return spawned;
  }
  // The child is exiting with 127 (the guard relays the program's 127 after a failed exec); the
  // group goes, and the child is collected so that it does not linger as a zombie.
  kill_process_group(pid, SIGKILL);
  [[maybe_unused]] auto ignored = reap(pid);
  if (got < sizeof(ChildReport)) {
    return Error(program + ": child failed before exec", ErrorCode::kFailed);
  }
  ChildReport report{};
  std::memcpy(&report, message.data(), sizeof report);
  switch (static_cast<ChildStage>(report.stage)) {
    case ChildStage::kExec: {
      // The errno alone says too little (ENOENT also means a missing #! interpreter, EACCES a
      // directory or a missing x bit): look at the file, from where the child was.
      std::string path = plan.path;
      if (path.front() != '/' && options.cwd) {
        path = *options.cwd + "/" + path;
      }
      const bool bare = program.find('/') == std::string::npos;
      Status why = check_runnable(path, report.err, bare ? plan.path : program);
      return why ? os_error(program, report.err) : std::move(why).error();
    }
    case ChildStage::kChdir:
      return os_error("cannot change directory to " + *options.cwd, report.err).context(program);
    case ChildStage::kSetup:
      break;
  }
  return os_error("setting up the child", report.err).context(program);
}

// pidfd_open(2): a descriptor that polls readable when the process exits. -1 on kernels before 5.3
// (or under seccomp filters that refuse it); callers then fall back to checking periodically.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Whether `pid` has exited, without reaping it: while it is an unreaped zombie its pid, and so its
// process group id, cannot be reused, which keeps kill(-pid) aimed at the right group.
Result<bool> has_exited(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) {
      return os_error("waitid", errno);
    }
  }
  return info.si_pid == pid;
}

// write() to a pipe whose reader is gone raises SIGPIPE, which would kill the tool. Block it for
// this thread around the write and discard the one this write raised (the usual pattern; see also
// git's and curl's "sigpipe ignore" helpers). Returns write()'s result with its errno.
ssize_t write_without_sigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set;
  sigset_t old_set;
  ::sigemptyset(&pipe_set);
  ::sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  sigset_t pending;
  ::sigemptyset(&pending);
  ::sigpending(&pending);
  const bool was_pending = ::sigismember(&pending, SIGPIPE) == 1;
  const ssize_t n = ::write(fd, data, size);
  const int saved_errno = errno;
  if (n < 0 && saved_errno == EPIPE && !was_pending) {
    const timespec no_wait{};
    while (::sigtimedwait(&pipe_set, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = saved_errno;
  return n;
}

// Keeps the last `cap` bytes of a stream, counts the rest, and optionally mirrors the stream to a
// file that is kept to the same tail.
class TailCapture {
 public:
  TailCapture(size_t cap, int file_fd, std::string file_path)
      : cap_(cap), file_fd_(file_fd), file_path_(std::move(file_path)) {}

  Status append(std::string_view data) {
    total_ += data.size();
    buffer_.append(data);
    if (file_fd_ >= 0) {
      FB_TRY(write_all(file_fd_, data, file_path_));
      file_size_ += data.size();
    }
    const size_t limit = cap_ + std::max(cap_, kMinSlack);
    if (buffer_.size() > limit) {
      trim();
    }
    if (file_fd_ >= 0 && file_size_ > limit) {
      trim();
      FB_TRY(rewrite_file());
    }
    return {};
  }

  // Trims to the cap and makes the file hold exactly the kept tail.
  Status finish() {
    trim();
    if (file_fd_ >= 0 && file_size_ != buffer_.size()) {
      FB_TRY(rewrite_file());
    }
    return {};
  }

  std::string take() { return std::move(buffer_); }
  uint64_t dropped() const { return total_ - buffer_.size(); }

 private:
  void trim() {
    if (buffer_.size() > cap_) {
      buffer_.erase(0, buffer_.size() - cap_);
    }
  }
  // The file is opened O_APPEND, so after truncation the next write lands at offset 0.
  Status rewrite_file() {
    if (::ftruncate(file_fd_, 0) != 0) {
      return os_error(file_path_, errno);
    }
    FB_TRY(write_all(file_fd_, buffer_, file_path_));
    file_size_ = buffer_.size();
    return {};
  }

  size_t cap_;
  int file_fd_;
  std::string file_path_;
  std::string buffer_;
  uint64_t total_ = 0;
  uint64_t file_size_ = 0;
};

int poll_timeout_ms(steady_clock::time_point now, std::optional<steady_clock::time_point> wake) {
  if (!wake) {
    return -1;
  }
  if (*wake <= now) {
    return 0;
  }
  // Round up: waking a little early would just spin until the deadline.
  const auto ms = std::chrono::ceil<milliseconds>(*wake - now).count();
  return static_cast<int>(std::min(ms, kMaxPollMs));
}

void earliest(std::optional<steady_clock::time_point>& wake, steady_clock::time_point t) {
  if (!wake || t < *wake) {
    wake = t;
  }
}

}  // namespace

std::string ProcessResult::status_text(const ProcessOptions& options) const {
  if (timed_out) {
    return fmt::format("timed out after {} ms", options.timeout.count());
  }
  if (no_output_timeout) {
    return fmt::format("no output for {} ms", options.no_output_timeout.count());
  }
  if (term_signal != 0) {
    const char* name = ::sigabbrev_np(term_signal);
    return name != nullptr ? fmt::format("killed by signal {} (SIG{})", term_signal, name)
                           : fmt::format("killed by signal {}", term_signal);
  }
  return fmt::format("exit {}", exit_code);
}

bool process_alive(int64_t pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

namespace {

// This boot's id, without the newline; empty if unreadable.
std::string boot_id() {
  auto text = read_file("/proc/sys/kernel/random/boot_id", 64);
  if (!text) {
    return "";
  }
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
    id.pop_back();
  }
  return id;
}

// Field 22 of /proc/PID/stat (starttime, clock ticks after boot); empty if unreadable. The command
// name (field 2) is in parentheses and may hold spaces and ')', so fields are counted from the
// last ')'.
std::string start_ticks(int64_t pid) {
  if (pid <= 0) {
    return "";
  }
  auto stat = read_file(fmt::format("/proc/{}/stat", pid), 4096);
  if (!stat) {
    return "";
  }
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos) {
    return "";
  }
  size_t at = paren + 1;
  for (int field = 3; field <= 22; ++field) {
    at = stat->find_first_not_of(' ', at);
    if (at == std::string::npos) {
      return "";
    }
    const size_t end = std::min(stat->find(' ', at), stat->size());
    if (field == 22) {
      std::string ticks = stat->substr(at, end - at);
      const bool digits =
          !ticks.empty() && ticks.find_first_not_of("0123456789") == std::string::npos;
      return digits ? ticks : "";
    }
    at = end;
  }
  return "";
}

}  // namespace

std::string process_start_stamp(int64_t pid) {
  std::string boot = boot_id();
  std::string ticks = start_ticks(pid);
  if (boot.empty() || ticks.empty()) {
    return "";
  }
  return boot + " " + ticks;
}

bool process_still_alive(int64_t pid, std::string_view start_stamp) {
  if (!process_alive(pid)) {
    return false;
  }
  const size_t space = start_stamp.find(' ');
  if (space == std::string_view::npos) {
    return true;  // no stamp (or one this version cannot read): the pid is all there is
  }
  // Either part read now and different proves that the process with this pid is a later one. A
  // part that cannot be read now (/proc hidden from this user) proves nothing.
  const std::string boot = boot_id();
  if (!boot.empty() && boot != start_stamp.substr(0, space)) {
    return false;
  }
  const std::string ticks = start_ticks(pid);
  return ticks.empty() || ticks == start_stamp.substr(space + 1);
}

Result<ProcessResult> run_process(const ProcessOptions& options) {
  FB_ASSIGN_OR_RETURN(ExecPlan plan, plan_exec(options));
  const std::string& program = options.argv[0];

  UniqueFd out_file;
  if (options.stdout_path) {
    FB_ASSIGN_OR_RETURN(out_file, open_cloexec(options.stdout_path->c_str(),
                                               O_WRONLY | O_CREAT | O_TRUNC | O_APPEND));
  }
  UniqueFd child_in;
  UniqueFd stdin_writer;
  if (options.stdin_data) {
    FB_ASSIGN_OR_RETURN(Pipe in_pipe, make_pipe());
    FB_TRY(set_nonblocking(in_pipe.write.get()));
    child_in = std::move(in_pipe.read);
    stdin_writer = std::move(in_pipe.write);
  } else {
    FB_ASSIGN_OR_RETURN(child_in, open_cloexec("/dev/null", O_RDONLY));
  }
  FB_ASSIGN_OR_RETURN(Pipe out_pipe, make_pipe());
  FB_TRY(set_nonblocking(out_pipe.read.get()));
  Pipe err_pipe;
  if (!options.merge_stderr) {
    FB_ASSIGN_OR_RETURN(err_pipe, make_pipe());
    FB_TRY(set_nonblocking(err_pipe.read.get()));
  }

  const auto start = steady_clock::now();
  const ChildStdio stdio{child_in.get(), out_pipe.write.get(),
                         options.merge_stderr ? out_pipe.write.get() : err_pipe.write.get()};
  FB_ASSIGN_OR_RETURN(const Spawned spawned, spawn(options, plan, stdio));
  const pid_t pid = spawned.guard;
  // Our copies of the child's ends must go, or we would never see EOF on its output.
  child_in.reset();
  out_pipe.write.reset();
  err_pipe.write.reset();
  UniqueFd pidfd(open_pidfd(pid));
  UniqueFd out_reader = std::move(out_pipe.read);
  UniqueFd err_reader = std::move(err_pipe.read);

  ProcessResult result;
  TailCapture out_capture(options.output_cap, out_file.get(), options.stdout_path.value_or(""));
  TailCapture err_capture(options.output_cap, -1, "");
  std::string_view stdin_left;
  if (options.stdin_data) {
    stdin_left = *options.stdin_data;
  }
  if (stdin_left.empty()) {
    stdin_writer.reset();
  }

  bool exited = false;
  bool killed = false;
  std::optional<Error> failure;
  std::optional<steady_clock::time_point> drain_deadline;
  auto last_output = start;
  const auto kill_for = [&](bool& reason) {
    kill_process_group(pid, SIGKILL);
    killed = true;
    reason = true;
    stdin_writer.reset();
  };
  std::array<char, kReadChunk> buffer{};

  while (!failure) {
    if (exited && !out_reader.valid() && !err_reader.valid()) {
      break;
    }
    auto now = steady_clock::now();
    if (drain_deadline && now >= *drain_deadline) {
      break;
    }
    std::optional<steady_clock::time_point> wake;
    if (!exited && !killed) {
      if (options.timeout.count() > 0) {
        if (now >= start + options.timeout) {
          kill_for(result.timed_out);
        } else {
          earliest(wake, start + options.timeout);
        }
      }
      if (!killed && options.no_output_timeout.count() > 0) {
        if (now >= last_output + options.no_output_timeout) {
          kill_for(result.no_output_timeout);
        } else {
          earliest(wake, last_output + options.no_output_timeout);
        }
      }
    }
    if (drain_deadline) {
      earliest(wake, *drain_deadline);
    }
    if (!exited && !pidfd.valid()) {
      earliest(wake, now + kExitPollInterval);
    }

    // Fixed slots: 0 stdin, 1 stdout, 2 stderr, 3 pidfd. A negative fd is ignored by poll().
    std::array<pollfd, 4> fds{};
    fds[0] = {stdin_writer.get(), POLLOUT, 0};
    fds[1] = {out_reader.get(), POLLIN, 0};
    fds[2] = {err_reader.get(), POLLIN, 0};
    fds[3] = {exited ? -1 : pidfd.get(), POLLIN, 0};
    if (::poll(fds.data(), fds.size(), poll_timeout_ms(now, wake)) < 0) {
      if (errno == EINTR) {
        continue;
      }
      failure = os_error("poll", errno);
      break;
    }
    now = steady_clock::now();

    if (fds[0].revents != 0) {
      const size_t chunk = std::min(stdin_left.size(), kReadChunk);
      const ssize_t n = write_without_sigpipe(stdin_writer.get(), stdin_left.data(), chunk);
      if (n > 0) {
        stdin_left.remove_prefix(static_cast<size_t>(n));
      }
      // EPIPE: the child stopped reading its input, which is its business, not an error.
      if (stdin_left.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        stdin_writer.reset();
      }
    }
    for (auto [slot, reader, capture] :
         {std::tuple{1, &out_reader, &out_capture}, std::tuple{2, &err_reader, &err_capture}}) {
      if (fds[static_cast<size_t>(slot)].revents == 0) {
        continue;
      }
      const ssize_t n = ::read(reader->get(), buffer.data(), buffer.size());
      if (n > 0) {
        last_output = now;
        if (auto appended =
                capture->append(std::string_view(buffer.data(), static_cast<size_t>(n)));
            !appended) {
          failure = std::move(appended).error();
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        reader->reset();
      }
    }

    if (!exited && (fds[3].revents != 0 || !pidfd.valid())) {
      auto done = has_exited(pid);
      if (!done) {
        failure = std::move(done).error();
      } else if (*done) {
        exited = true;
        // The child is gone; whatever it left running in its group goes too.
        kill_process_group(pid, SIGKILL);
        stdin_writer.reset();
        drain_deadline = now + kDrainGrace;
      }
    }
  }
  if (failure) {
    kill_process_group(pid, SIGKILL);
  }
  out_reader.reset();
  err_reader.reset();
  stdin_writer.reset();
  auto status = reap(pid);
  result.duration = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  if (failure) {
    return std::move(*failure).context(program);
  }
  if (!status) {
    return std::move(status).error().context(program);
  }
  result.exit_code = status->exit_code;
  result.term_signal = status->term_signal;
  // A child that exited on its own just as its time ran out (between the last look and the kill)
  // finished: only a child the kill ended timed out, so the flags agree with succeeded().
  if (status->term_signal == 0) {
    result.timed_out = false;
    result.no_output_timeout = false;
  }
  if (auto finished = out_capture.finish(); !finished) {
    return std::move(finished).error().context(program);
  }
  FB_TRY(err_capture.finish());
  result.out_dropped = out_capture.dropped();
  result.err_dropped = err_capture.dropped();
  result.out = out_capture.take();
  result.err = err_capture.take();
  return result;
}

// ChildProcess

Result<ChildProcess> ChildProcess::start(const ProcessOptions& options) {
  if (options.timeout.count() != 0 || options.no_output_timeout.count() != 0 ||
      options.stdin_data) {
    return Error("ChildProcess: timeout, no_output_timeout and stdin_data are not supported",
                 ErrorCode::kInvalidInput);
  }
  FB_ASSIGN_OR_RETURN(ExecPlan plan, plan_exec(options));

  FB_ASSIGN_OR_RETURN(UniqueFd child_in, open_cloexec("/dev/null", O_RDONLY));
  UniqueFd child_out;
  UniqueFd out_reader;
  if (options.stdout_path) {
    FB_ASSIGN_OR_RETURN(child_out, open_cloexec(options.stdout_path->c_str(),
                                                O_WRONLY | O_CREAT | O_TRUNC | O_APPEND));
  } else {
    FB_ASSIGN_OR_RETURN(Pipe out_pipe, make_pipe());
    FB_TRY(set_nonblocking(out_pipe.read.get()));
    child_out = std::move(out_pipe.write);
    out_reader = std::move(out_pipe.read);
  }
  UniqueFd child_err;
  UniqueFd err_reader;
  if (!options.merge_stderr) {
    FB_ASSIGN_OR_RETURN(Pipe err_pipe, make_pipe());
    FB_TRY(set_nonblocking(err_pipe.read.get()));
    child_err = std::move(err_pipe.write);
    err_reader = std::move(err_pipe.read);
  }

  const ChildStdio stdio{child_in.get(), child_out.get(),
                         options.merge_stderr ? child_out.get() : child_err.get()};
  FB_ASSIGN_OR_RETURN(const Spawned spawned, spawn(options, plan, stdio));
  const pid_t pid = spawned.guard;
  ChildProcess child;
  child.pid_ = pid;
  child.program_ = spawned.program;
  child.pidfd_ = open_pidfd(pid);
  child.stdout_fd_ = out_reader.release();
  child.stderr_fd_ = err_reader.release();
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      program_(std::exchange(other.program_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      stderr_fd_(std::exchange(other.stderr_fd_, -1)),
      exit_status_(std::exchange(other.exit_status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    program_ = std::exchange(other.program_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    stderr_fd_ = std::exchange(other.stderr_fd_, -1);
    exit_status_ = std::exchange(other.exit_status_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() { release(); }

void ChildProcess::release() {
  if (pid_ > 0 && !exit_status_) {
    kill_process_group(pid_, SIGKILL);
    [[maybe_unused]] auto ignored = reap(pid_);
  }
  for (int* fd : {&pidfd_, &stdout_fd_, &stderr_fd_}) {
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  }
  pid_ = -1;
  program_ = -1;
  exit_status_.reset();
}

Status ChildProcess::kill_group(int signal) {
  if (pid_ <= 0 || exit_status_) {
    return {};
  }
  if (::kill(-pid_, signal) != 0) {
    return os_error(fmt::format("kill process group {}", pid_), errno);
  }
  return {};
}

Result<std::optional<ExitStatus>> ChildProcess::wait_for(milliseconds timeout) {
  if (exit_status_ || pid_ <= 0) {
    return exit_status_;
  }
  const auto deadline = steady_clock::now() + timeout;
  while (true) {
    FB_ASSIGN_OR_RETURN(const bool done, has_exited(pid_));
    if (done) {
      kill_process_group(pid_, SIGKILL);
      FB_ASSIGN_OR_RETURN(const ExitStatus status, reap(pid_));
      exit_status_ = status;
      if (pidfd_ >= 0) {
        ::close(pidfd_);
        pidfd_ = -1;
      }
      return exit_status_;
    }
    const auto now = steady_clock::now();
    if (now >= deadline) {
      return std::optional<ExitStatus>();
    }
    if (pidfd_ >= 0) {
      pollfd fd{pidfd_, POLLIN, 0};
      if (::poll(&fd, 1, poll_timeout_ms(now, deadline)) < 0 && errno != EINTR) {
        return os_error("poll", errno);
      }
    } else {
      std::this_thread::sleep_for(
          std::min<steady_clock::duration>(deadline - now, kExitPollInterval));
    }
  }
}

}  // namespace flakebisect::base

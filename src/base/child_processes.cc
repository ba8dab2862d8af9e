#include "base/child_processes.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <sstream>
#include <string>

#include "base/paths.h"

namespace flakebisect::base {

std::vector<pid_t> child_processes() {
  std::vector<pid_t> pids;
  std::error_code ec;
  // A thread may exit while we iterate; its directory then vanishes and is skipped.
  // read_file opens with O_CLOEXEC (an ifstream would not), so a child started by another thread
  // meanwhile does not inherit the descriptor.
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const auto text = read_file((task.path() / "children").string());
    if (!text) {
      continue;
    }
    std::istringstream children(*text);
    long pid = 0;
    while (children >> pid) {
      pids.push_back(static_cast<pid_t>(pid));
    }
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

size_t signal_child_process_groups(int signal) {
  size_t signalled = 0;
  for (pid_t pid : child_processes()) {
    if (::kill(-pid, signal) == 0 || (errno == ESRCH && ::kill(pid, signal) == 0)) {
      ++signalled;
    }
  }
  return signalled;
}

}  // namespace flakebisect::base

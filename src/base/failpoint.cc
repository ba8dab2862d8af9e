#include "base/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "base/child_processes.h"

namespace flakebisect::base {
namespace {

struct Armed {
  std::string name;  // empty: nothing armed
  unsigned long hit = 1;
};

const Armed& armed_point() {
  static const Armed armed = [] {
    Armed result;
    const char* value = std::getenv("FLAKEBISECT_FAILPOINT");
    if (value == nullptr) {
      return result;
    }
    std::string_view text(value);
    const size_t colon = text.find(':');
    result.name = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      std::string_view count = text.substr(colon + 1);
      const auto [end, error] =
          std::from_chars(count.data(), count.data() + count.size(), result.hit);
      if (error != std::errc() || end != count.data() + count.size() || result.hit == 0) {
        result.name.clear();
      }
    }
    return result;
  }();
  return armed;
}

// Counts a hit of `name`; true if this is the armed hit.
bool hit(std::string_view name) {
  const Armed& armed = armed_point();
  if (armed.name.empty() || armed.name != name) {
    return false;
  }
  static std::mutex mutex;
  static unsigned long hits = 0;
  std::lock_guard lock(mutex);
  return ++hits == armed.hit;
}

[[noreturn]] void die() {
  ::raise(SIGKILL);
  ::_exit(137);  // not reached: SIGKILL cannot be caught
}

}  // namespace

void failpoint(std::string_view name) {
  if (hit(name)) {
    die();
  }
}

FailpointWhileChildRuns::FailpointWhileChildRuns(std::string_view name) : armed_(hit(name)) {
  if (!armed_) {
    return;
  }
  std::thread([] {
    while (child_processes().empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    die();
  }).detach();
}

FailpointWhileChildRuns::~FailpointWhileChildRuns() {
  if (armed_) {
    die();  // the child was too quick for the watcher: die before its outcome is used
  }
}

}  // namespace flakebisect::base

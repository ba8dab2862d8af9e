#include "daemon/signal_watcher.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <thread>

namespace flakebisect::daemon {
namespace {

// Saves this thread's signal mask and the stop signals' dispositions, and puts them back at the
// end, so that the tests after these (which start child processes) see what they would have.
class SignalWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &mask_), 0);
    for (size_t i = 0; i < kSignals.size(); ++i) {
      ASSERT_EQ(::sigaction(kSignals[i], nullptr, &dispositions_[i]), 0);
    }
  }
  void TearDown() override {
    // A signal left pending is discarded when its disposition becomes SIG_IGN, before unblocking.
    for (const int sig : kSignals) {
      ::signal(sig, SIG_IGN);
    }
    ::pthread_sigmask(SIG_SETMASK, &mask_, nullptr);
    for (size_t i = 0; i < kSignals.size(); ++i) {
      ::sigaction(kSignals[i], &dispositions_[i], nullptr);
    }
  }

  // Waits up to 2 s for the watcher to see a stop request.
  static bool stop_seen(const SignalWatcher& watcher) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!watcher.stop_requested().load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return watcher.stop_requested().load();
  }

  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  sigset_t mask_{};
  std::array<struct sigaction, 3> dispositions_{};
};

TEST_F(SignalWatcherTest, ASignalIgnoredAtStartStaysIgnored) {
  // As under `nohup flakebisect run ... &`.
  ::signal(SIGHUP, SIG_IGN);
  auto watcher = SignalWatcher::start();
  ASSERT_TRUE(watcher.has_value()) << watcher.error().message();
  ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
  EXPECT_FALSE(stop_seen(**watcher));
  EXPECT_EQ((*watcher)->signal(), 0);
  sigset_t blocked;
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &blocked), 0);
  EXPECT_EQ(sigismember(&blocked, SIGHUP), 0);
}

TEST_F(SignalWatcherTest, ASignalNotIgnoredAtStartRequestsAStop) {
  ::signal(SIGHUP, SIG_DFL);
  auto watcher = SignalWatcher::start();
  ASSERT_TRUE(watcher.has_value()) << watcher.error().message();
  ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
  EXPECT_TRUE(stop_seen(**watcher));
  EXPECT_EQ((*watcher)->signal(), SIGHUP);
}

}  // namespace
}  // namespace flakebisect::daemon

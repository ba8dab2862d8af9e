// Clock: where flakebisect reads the time, so tests can control it.
//
// Code that measures durations, schedules retries or stamps rows takes a Clock& instead of calling
// std::chrono directly. RealClock reads the OS clocks; FakeClock holds times a test sets and
// advances by hand, and its sleep_for() advances instead of blocking.
//
// Thread rules: every method of RealClock and FakeClock may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <thread>

namespace flakebisect::base {

class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic time, for durations and deadlines. Never goes backwards.
  virtual std::chrono::steady_clock::time_point now() const = 0;
  // Wall-clock time, for timestamps shown to people or stored. May jump.
  virtual std::chrono::system_clock::time_point wall_now() const = 0;
  // Blocks the calling thread for `duration` (a FakeClock advances instead).
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
};

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::now();
  }
  void sleep_for(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(duration);
  }
};

// Starts at a fixed, arbitrary point (steady: 1000 s after the epoch of steady_clock; wall:
// 2024-01-01T00:00:00Z) so tests that print times are reproducible. Both clocks move together.
class FakeClock final : public Clock {
 public:
  static constexpr std::chrono::seconds kStartSteady{1000};
  static constexpr std::chrono::seconds kStartWall{1704067200};  // 2024-01-01T00:00:00Z

  std::chrono::steady_clock::time_point now() const override {
    std::lock_guard lock(mutex_);
    return steady_;
  }
  std::chrono::system_clock::time_point wall_now() const override {
    std::lock_guard lock(mutex_);
    return wall_;
  }
  void sleep_for(std::chrono::milliseconds duration) override { advance(duration); }

  // Moves both clocks forward by `duration` (must not be negative: steady time never goes back).
  void advance(std::chrono::steady_clock::duration duration) {
    std::lock_guard lock(mutex_);
    steady_ += duration;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(duration);
  }
  // Sets the wall clock alone, as an NTP step would; the steady clock is unaffected.
  void set_wall(std::chrono::system_clock::time_point wall) {
    std::lock_guard lock(mutex_);
    wall_ = wall;
  }

 private:
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point steady_{kStartSteady};
  std::chrono::system_clock::time_point wall_{kStartWall};
};

}  // namespace flakebisect::base

// DaemonLock: proof that this process is the one daemon serving a store.
//
// The lock is flock(LOCK_EX) on "<store path>.daemon.lock", a file created 0600 next to the store
// and never deleted (deleting a lock file races with a process that has just opened it). The kernel
// drops the lock when the holder exits, kill -9 included, so a stale lock cannot outlive its
// daemon. The holder writes its pid into the file so that a refused second daemon can say who holds
// it.
//
// flock locks belong to an open file description, so a second acquire_daemon_lock() in the same
// process is refused too.
//
// Thread rules: a DaemonLock is a value owned by one thread; release by destroying it.
#pragma once

#include <string>

#include "base/result.h"

namespace flakebisect::store {

class DaemonLock {
 public:
  DaemonLock(DaemonLock&& other) noexcept;
  DaemonLock& operator=(DaemonLock&& other) noexcept;
  DaemonLock(const DaemonLock&) = delete;
  DaemonLock& operator=(const DaemonLock&) = delete;
  ~DaemonLock();

  const std::string& lock_path() const { return lock_path_; }

 private:
  friend base::Result<DaemonLock> acquire_daemon_lock(const std::string& store_path);
  DaemonLock(std::string lock_path, int fd) : lock_path_(std::move(lock_path)), fd_(fd) {}

  std::string lock_path_;
  int fd_ = -1;
};

// The lock file's path for a store: beside the store's real path (symbolic links resolved).
std::string daemon_lock_path(const std::string& store_path);

// Takes the daemon lock without waiting. Fails with kBusy ("store <path> is already served by a
// daemon (pid N)") when another holder has it, kIo when the lock file cannot be created.
base::Result<DaemonLock> acquire_daemon_lock(const std::string& store_path);

}  // namespace flakebisect::store

#include <gtest/gtest.h>

#include "daemon/daemon.h"

namespace flakebisect::daemon {
namespace {

store::Event event(std::string kind, std::optional<std::string> data = std::nullopt) {
  store::Event e;
  e.kind = std::move(kind);
  e.data_json = std::move(data);
  return e;
}

TEST(ResumableByDaemon, TakesBackWhatAStoppedDaemonPaused) {
  EXPECT_TRUE(resumable_by_daemon({event("session", R"({"mode":"daemon"})"), event("plan"),
                                   event("paused", R"({"by":"daemon"})")}));
}

TEST(ResumableByDaemon, TakesBackWhatADeadDaemonWasRunning) {
  EXPECT_TRUE(resumable_by_daemon(
      {event("session", R"({"mode":"daemon"})"), event("recovered", R"({"owner_pid":12})")}));
}

TEST(ResumableByDaemon, LeavesForegroundErrorAndUserPausesAlone) {
  EXPECT_FALSE(resumable_by_daemon(
      {event("session", R"({"mode":"foreground"})"), event("paused", R"({"by":"foreground"})")}));
  EXPECT_FALSE(resumable_by_daemon(
      {event("session", R"({"mode":"foreground"})"), event("recovered", R"({"owner_pid":12})")}));
  EXPECT_FALSE(resumable_by_daemon({event("session", R"({"mode":"daemon"})"), event("error")}));
  EXPECT_FALSE(resumable_by_daemon({}));
  // A later foreground session that was paused by a signal is the user's again.
  EXPECT_FALSE(resumable_by_daemon(
      {event("session", R"({"mode":"daemon"})"), event("paused", R"({"by":"daemon"})"),
       event("session", R"({"mode":"foreground"})"), event("paused", R"({"by":"foreground"})")}));
}

}  // namespace
}  // namespace flakebisect::daemon

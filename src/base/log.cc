#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace flakebisect::base {

void setup_logging(int verbosity) {
  // A plain (uncoloured) sink: stderr is often a CI log or a file, and the prefix is the signal.
  auto logger = std::make_shared<spdlog::logger>("flakebisect",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (verbosity >= 2) {
    logger->set_level(spdlog::level::debug);
    logger->set_pattern("flakebisect: %H:%M:%S.%e %l: %v");
  } else {
    logger->set_level(verbosity == 1 ? spdlog::level::info : spdlog::level::warn);
    logger->set_pattern("flakebisect: %v");
  }
  // stderr is unbuffered in spirit: a message must be visible before a crash or a long wait.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace flakebisect::base

// The TOML text of an effective configuration, for storing with a bisection.
//
// A bisection stores the configuration it runs with (store::BisectionSpec::config_toml) so that a
// resume, possibly in another process, uses exactly the same settings. When the command line
// overrides values of the user's file (--confidence, --max-runs, a trailing test command), the
// file's text is no longer the configuration; this renders the effective values instead.
//
// TODO(config owner): this belongs next to the parser as config::to_toml(); it is here until then.
//
// Thread rules: pure functions.
#pragma once

#include <string>

#include "base/result.h"
#include "config/config.h"

namespace flakebisect::engine {

// The text to store for `config`: its source_text when that parses to exactly `config` (the hash
// matches), otherwise a rendering of every value. The result is checked to parse back to the same
// hash; an error (kInvalidInput) names a value TOML cannot hold (invalid UTF-8 in an argument).
base::Result<std::string> config_text_for_storage(const config::Config& config);

}  // namespace flakebisect::engine

#pragma once
// Which configured source a command means: the rules shared by every use case that needs one of an engine
// (wal needs postgres, binlog needs mysql), with the one-line errors that say what to add to the config.
#include <string>

#include "common/config.hpp"
#include "engines/engine.hpp"

namespace strata::app {

// [source.NAME] with engine = ENGINE. Throws kUsage when it is missing or of another engine.
SourceConfig engine_source(const Settings& settings, const std::string& name, const std::string& engine);
// The postgres source NAME, or the only postgres source when NAME is empty (archive_command lines often omit it).
SourceConfig postgres_source(const Settings& settings, const std::string& name);

}  // namespace strata::app
